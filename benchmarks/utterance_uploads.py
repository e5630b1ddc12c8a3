"""What callers upload: `/pred`'s answer classified whole against split into its utterances and pooled.

An upload is one recording as it is ("one"), one recording with 1.5 s before and after it and white noise at
-40 dBFS throughout ("one, padded": a phone held before and after speaking), or 2-3 recordings of one speaker and one
emotion joined with pauses drawn from 0.3-1.5 s ("two", "three": a customer who says a few sentences); all with faint
line noise (-54 dBFS) throughout, optionally through channel conditions of params.yaml (`--through ulaw_8k`).
Printed per condition and kind: accuracy of `Predictor.predict_audio` with `utterances=whole` and with
`utterances=split` (the default: each utterance classified from its window), and how many uploads held more than one
utterance.

Default: the served model on the test speakers (03 + 08). `--loso`: the choice's evidence, on the training speakers
only: a network of the served spec (one member) fitted per fold on the other seven speakers' clean and training-
condition feature tables, the held-out speaker's uploads scored whole and split (clean audio). Needs a trained
project (`dvc repro`).

Usage: python benchmarks/utterance_uploads.py [--through ulaw_8k babble_10db] [--loso]
"""

from __future__ import annotations

import argparse
import io
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ser  # noqa: F401  (first: the SIMD pins)

# isort: split

import numpy as np
import pandas as pd
import soundfile as sf
from joblib import Parallel, delayed

from ser.audio.channels import Condition, condition_lists, conditions_from_params
from ser.data.split import read_manifest
from ser.features.dataset import BabblePool
from ser.features.extractor import FeatureConfig, extract
from ser.inference.analysis_config import AnalysisConfig
from ser.inference.predictor import Predictor
from ser.inference.utterances import pooled, utterances
from ser.models.conditioned import conditioned_data
from ser.models.families import build_estimator
from ser.pipeline.params import load_params

ROOT = Path(__file__).resolve().parents[1]
SR = 16_000
TRIALS = 3  # joined uploads per (speaker, emotion) and number of recordings


KINDS = {1: "one", 2: "two", 3: "three"}
PADDED = "one, padded"
PAD_S, PAD_NOISE_DBFS = 1.5, -40.0


def uploads(manifest: pd.DataFrame, seed: int = 0) -> list[tuple[np.ndarray, int, str, str]]:
    """(signal, label, speaker, kind): every recording alone and padded, then ``TRIALS`` uploads of 2 and of 3
    recordings of one speaker and emotion."""
    rng, noise = random.Random(seed), np.random.default_rng(seed + 1)
    built = []
    for (speaker, label), group in manifest.groupby(["speaker", "label"]):
        ids = list(group["id"])
        picks = [[i] for i in ids] + [[rng.choice(ids) for _ in range(k)] for k in (2, 3) for _ in range(TRIALS)]
        for pick in picks:
            parts = []
            for index, utterance in enumerate(pick):
                if index:
                    parts.append(np.zeros(int(rng.uniform(0.3, 1.5) * SR), np.float32))
                parts.append(sf.read(ROOT / "data/raw/wav" / f"{utterance}.wav", dtype="float32")[0])
            signal = np.concatenate(parts)
            signal += noise.standard_normal(signal.size).astype(np.float32) * 0.002
            built.append((signal, int(label), str(speaker), KINDS[len(pick)]))
            if len(pick) == 1:
                pad = np.zeros(int(PAD_S * SR), np.float32)
                padded = np.concatenate([pad, signal, pad])
                padded += noise.standard_normal(padded.size).astype(np.float32) * 10 ** (PAD_NOISE_DBFS / 20)
                built.append((padded, int(label), str(speaker), PADDED))
    return built


def wav(signal: np.ndarray, sr: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, signal, sr, format="WAV", subtype="FLOAT")
    return buffer.getvalue()


def table(rows: list[dict]) -> None:
    frame = pd.DataFrame(rows)
    summary = frame.groupby(["condition", "kind"], sort=False).agg(
        uploads=("whole", "size"), whole=("whole", "mean"), split=("split", "mean"), several=("several", "sum")
    )
    print(summary.round(3).to_string())


def served(conditions: list[Condition]) -> None:
    predictor = Predictor.load(ROOT / "models/model")
    predictor.warm_up()
    speech = AnalysisConfig.from_params_file(ROOT / "params.yaml")
    built = uploads(read_manifest(ROOT / "data/split/test.csv"))
    rows = []
    for condition in [None, *conditions]:
        name = "clean" if condition is None else condition.name
        for number, (signal, label, speaker, kind) in enumerate(built):
            heard, sr = (signal, SR) if condition is None else condition.apply(signal, SR, f"{speaker}-{number}")
            data = wav(heard, sr)
            whole = predictor.predict_audio(data)["class"]["label"]
            answer = predictor.predict_audio(data, speech=speech)
            several = len(answer["utterances"]) > 1
            rows.append({"condition": name, "kind": kind, "whole": whole == label,
                         "split": answer["class"]["label"] == label, "several": several})  # fmt: skip
        print(f"{name}: done", flush=True)
    table(rows)


def loso() -> None:
    params = load_params(ROOT / "params.yaml")
    config = FeatureConfig.from_params(params["features"])
    speech = AnalysisConfig.from_params_file(ROOT / "params.yaml")
    manifest = read_manifest(ROOT / "data/split/train.csv")
    train_conditions, _ = condition_lists(params["channels"])
    data = conditioned_data(manifest, train_conditions, ("clean",))
    built = uploads(manifest)

    def vectors(signal: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, list]:
        found = utterances(signal, SR, speech, config.min_samples)
        parts = np.vstack([extract(u.samples, SR, config) for u in found]) if found else None
        return extract(signal, SR, config), parts, found

    features = Parallel(n_jobs=2)(delayed(vectors)(signal) for signal, *_ in built)
    model = params["cv"]["candidates"]["mlp_200_ls_bal"] | {"seed": params["cv"]["seed"]}

    def fold(speaker: str) -> list[dict]:
        estimator = build_estimator(model)
        estimator.fit(*data.training_rows(data.speakers != speaker))
        rows = []
        for (_, label, who, kind), (whole, parts, found) in zip(built, features, strict=True):
            if who != speaker:
                continue
            whole_label = int(estimator.predict(whole[None])[0])
            split = whole_label if parts is None else int(np.argmax(pooled(estimator.predict_proba(parts), found)))
            rows.append({"condition": "clean (LOSO)", "kind": kind, "whole": whole_label == label,
                         "split": split == label, "several": len(found) > 1})  # fmt: skip
        return rows

    results = Parallel(n_jobs=2)(delayed(fold)(s) for s in sorted(set(data.speakers)))
    table([row for rows in results for row in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--through", nargs="*", default=[], help="channel conditions of params.yaml")
    parser.add_argument("--loso", action="store_true", help="LOSO on the training speakers instead")
    args = parser.parse_args()
    if args.loso:
        loso()
        return
    channels = load_params(ROOT / "params.yaml")["channels"]
    train = read_manifest(ROOT / "data/split/train.csv")
    babble = BabblePool([ROOT / "data/raw/wav" / f"{i}.wav" for i in train["id"]])  # training speakers only
    served(conditions_from_params(channels, args.through, babble))


if __name__ == "__main__":
    main()
