"""What callers upload: `/pred`'s answer classified whole against split into its utterances and pooled.

An upload is one recording as it is ("one"), one recording with 1.5 s (or 0.5 s) before and after it and white
noise at -40 dBFS throughout ("one, padded", "one, 0.5 s around": a phone held before and after speaking), or 2-3
recordings of one speaker and one emotion joined with pauses drawn from 0.3-1.5 s ("two", "three": a customer who
says a few sentences); all with faint line noise (-54 dBFS) throughout, optionally through channel conditions of
params.yaml (`--through ulaw_8k`).
Printed per condition and kind: accuracy with `utterances=whole` and with `utterances=split` (the default: each
utterance found classified from its window, answers pooled by duration), and how many uploads held more than one
utterance; then the mean over the kinds. Columns `one>=S`: a rule tried in session 33 (split, but an upload whose one
utterance's window covers at least S of it classified whole).

Default: the served model on the test speakers (03 + 08). `--loso`: the choice's evidence, on the training speakers
only: a network of the served spec (one member) fitted per fold on the other seven speakers' clean and training-
condition feature tables, the held-out speaker's uploads scored each way. Needs a trained project (`dvc repro`).

`--variant NAME KEY=VALUE ...` (with `--loso`) adds a column split with those `analysis:` rules changed.

Usage: python benchmarks/utterance_uploads.py [--through ulaw_8k babble_10db] [--loso] [--variant gap0.5 min_gap_s=0.5]
"""

from __future__ import annotations

import argparse
import io
import random
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ser  # noqa: F401  (first: the SIMD pins)

# isort: split

import librosa
import numpy as np
import pandas as pd
import soundfile as sf
from joblib import Parallel, delayed

from benchmarks.rules import changed
from ser.audio.channels import Condition, condition_lists, conditions_from_params
from ser.data.split import read_manifest
from ser.features.dataset import BabblePool, SameVoicePool
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
PADS = {"one, padded": 1.5, "one, 0.5 s around": 0.5}  # kind: seconds of noise before and after the recording
PAD_NOISE_DBFS = -40.0
SHARES = (0.5, 0.6, 0.7, 0.8, 0.9)  # the rule "one utterance covering this share of the upload: whole", per share


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
            for kind, pad_s in PADS.items() if len(pick) == 1 else ():
                pad = np.zeros(int(pad_s * SR), np.float32)
                padded = np.concatenate([pad, signal, pad])
                padded += noise.standard_normal(padded.size).astype(np.float32) * 10 ** (PAD_NOISE_DBFS / 20)
                built.append((padded, int(label), str(speaker), kind))
    return built


def draw_id(speaker: str, number: int) -> str:
    """An EmoDB-shaped id of the upload's speaker, different per upload: the condition's draws (and its babble,
    never of that speaker) are seeded by it."""
    return f"{speaker}{'ab'[number % 2]}{number // 2 % 100:02d}Wa"


def through(condition: Condition | None, signal: np.ndarray, speaker: str, number: int) -> np.ndarray:
    """The upload through ``condition`` (None: as it is), at 16 kHz."""
    if condition is None:
        return signal
    heard, sr = condition.apply(signal, SR, draw_id(speaker, number))
    return heard if sr == SR else librosa.resample(heard, orig_sr=sr, target_sr=SR)


def wav(signal: np.ndarray, sr: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, signal, sr, format="WAV", subtype="FLOAT")
    return buffer.getvalue()


def table(rows: list[dict]) -> None:
    """Accuracy per condition and kind: whole, split, and split except when one utterance covers a share of the
    upload (``SHARES``: then whole), with how many uploads held several utterances."""
    frame = pd.DataFrame(rows)
    for share in SHARES:
        frame[f"one>={share}"] = frame["whole"].where(frame["share"] >= share, frame["split"])
    columns = {"uploads": ("whole", "size"), "whole": ("whole", "mean")}
    columns |= {name: (name, "mean") for name in frame.columns if name.startswith(("split", "one>="))}
    summary = frame.groupby(["condition", "kind"], sort=False).agg(**columns, several=("several", "sum"))
    print(summary.round(3).to_string())
    means = summary.drop(columns=["uploads", "several"]).groupby(level="condition", sort=False).mean()
    print("\nmean of the kinds\n" + means.round(3).to_string())


def single_share(found: list, samples: int) -> float:
    """The share of the upload that its one utterance's window covers (0 unless exactly one was found)."""
    return found[0].samples.size / samples if len(found) == 1 else 0.0


def pooled_label(probabilities: np.ndarray, found: list) -> int:
    return int(np.argmax(pooled(probabilities, found)))


def served(conditions: list[Condition]) -> None:
    predictor = Predictor.load(ROOT / "models/model")
    predictor.warm_up()
    speech = AnalysisConfig.from_params_file(ROOT / "params.yaml")
    built = uploads(read_manifest(ROOT / "data/split/test.csv"))
    rows = []
    for condition in [None, *conditions]:
        name = "clean" if condition is None else condition.name
        for number, (signal, label, speaker, kind) in enumerate(built):
            heard = through(condition, signal, speaker, number)
            data = wav(heard, SR)
            whole = predictor.predict_audio(data)["class"]["label"]
            answer = predictor.predict_audio(data, speech=speech)
            split, several = answer["class"]["label"] == label, len(answer["utterances"]) > 1
            share = single_share(utterances(heard, SR, speech, predictor.feature_config.min_samples), heard.size)
            rows.append({"condition": name, "kind": kind, "whole": whole == label, "split": split,
                         "several": several, "share": share})  # fmt: skip
        print(f"{name}: done", flush=True)
    table(rows)


def loso(conditions: list[Condition], variants: dict[str, AnalysisConfig]) -> None:
    params = load_params(ROOT / "params.yaml")
    config = FeatureConfig.from_params(params["features"])
    speech = AnalysisConfig.from_params_file(ROOT / "params.yaml")
    splits = {"split": speech} | {f"split {name}": rules for name, rules in variants.items()}
    manifest = read_manifest(ROOT / "data/split/train.csv")
    train_conditions, _ = condition_lists(params["channels"])
    data = conditioned_data(manifest, train_conditions, ("clean",))
    built = uploads(manifest)

    def vectors(heard: np.ndarray) -> dict[str, tuple]:
        whole = (extract(heard, SR, config)[None], None)
        answer = {"whole": whole}
        for name, rules in splits.items():
            found = utterances(heard, SR, rules, config.min_samples)
            if name == "split":
                answer |= {"several": len(found) > 1, "share": single_share(found, heard.size)}
            rows = np.vstack([extract(u.samples, SR, config) for u in found]) if found else None
            found = [replace(u, samples=u.samples[:0]) for u in found]  # the durations pool; the audio is not kept
            answer[name] = (rows, found) if found else whole
        return answer

    jobs = [(c, n, item) for c in [None, *conditions] for n, item in enumerate(built)]
    features = Parallel(n_jobs=2)(delayed(vectors)(through(c, s, who, n)) for c, n, (s, _, who, _) in jobs)
    model = params["cv"]["candidates"]["mlp_200_ls_bal"] | {"seed": params["cv"]["seed"]}

    def fold(speaker: str) -> list[dict]:
        estimator = build_estimator(model)
        estimator.fit(*data.training_rows(data.speakers != speaker))
        rows = []
        for (condition, _, (_, label, who, kind)), vector in zip(jobs, features, strict=True):
            if who != speaker:
                continue
            row = {"condition": f"{'clean' if condition is None else condition.name} (LOSO)", "kind": kind,
                   "several": vector["several"], "share": vector["share"]}  # fmt: skip
            for name in ("whole", *splits):
                rows_, found = vector[name]
                probabilities = estimator.predict_proba(rows_)
                row[name] = (pooled_label(probabilities, found) if found else int(np.argmax(probabilities[0]))) == label
            rows.append(row)
        return rows

    results = Parallel(n_jobs=2)(delayed(fold)(s) for s in sorted(set(data.speakers)))
    table([row for rows in results for row in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--through", nargs="*", default=[], help="channel conditions of params.yaml")
    parser.add_argument("--loso", action="store_true", help="LOSO on the training speakers instead")
    parser.add_argument("--variant", nargs="+", action="append", default=[], metavar="NAME KEY=VALUE",
                        help="--loso: also split with these analysis: rules changed, e.g. --variant gap0.5 "
                        "min_gap_s=0.5 (repeatable)")  # fmt: skip
    args = parser.parse_args()
    base = AnalysisConfig.from_params_file(ROOT / "params.yaml")
    try:
        variants = {name: changed(base, kvs) for name, *kvs in args.variant}
    except ValueError as error:
        parser.error(str(error))
    channels = load_params(ROOT / "params.yaml")["channels"]
    train = read_manifest(ROOT / "data/split/train.csv")
    babble = BabblePool([ROOT / "data/raw/wav" / f"{i}.wav" for i in train["id"]])  # training speakers only
    partners = SameVoicePool(sorted((ROOT / "data/raw/wav").glob("*.wav")))  # join: the speaker's own recordings
    conditions = conditions_from_params(channels, args.through, babble, partners)
    loso(conditions, variants) if args.loso else served(conditions)


if __name__ == "__main__":
    main()
