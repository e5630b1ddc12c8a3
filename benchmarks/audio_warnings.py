"""What the audio warnings flag, and how accurate the served model is with and without them.

Each test recording (data/split/test.csv: speakers the served model never saw) is heard clean and through every
channel condition of params.yaml (the evaluation conditions and the training chains), exactly as the pipeline's
feature tables were made (same seeds), and measured as an upload is (``ser.inference.quality``: one recording, one
measure). The model's answers come from those feature tables (no extraction here). Per condition it prints the
share of recordings called noisy and reverberant, and the accuracy of the recordings with a warning and without;
then the same pooled over all conditions. Figures to read, not to tune to: the thresholds were set on the training
speakers. Needs a trained project (`dvc repro`). Usage: python benchmarks/audio_warnings.py   # about 15 s on 2 cores
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ser  # noqa: F401  (first: the SIMD pins)

# isort: split

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from ser.audio.channels import Condition, conditions_from_params
from ser.data import emodb
from ser.features.dataset import BabblePool, SameVoicePool, heard_through
from ser.inference.quality import measure, role_audio
from ser.models.artifact import ModelArtifact
from ser.pipeline.params import load_params
from ser.pipeline.paths import CHANNEL_FEATURES_DIR, FEATURES_FILE, MODEL_DIR, TEST_MANIFEST, TRAIN_MANIFEST, WAV_DIR

ROOT = Path(__file__).resolve().parents[1]
SR = 16_000


def warnings_of(path: Path, condition: Condition | None) -> list[str]:
    audio = role_audio([(measure(heard_through(path, condition, SR), SR), 1.0)])
    return [] if audio is None else audio["warnings"]


def main() -> None:
    params = load_params(ROOT / "params.yaml")
    channels = params["channels"]
    names = [*channels["eval"], *channels["train"]]
    train_ids = pd.read_csv(ROOT / TRAIN_MANIFEST, usecols=["id"])["id"]
    babble = BabblePool([ROOT / WAV_DIR / f"{rid}.wav" for rid in train_ids])
    partners = sorted((ROOT / WAV_DIR).glob("*.wav"))  # a joined copy: the recording's own speaker and emotion
    conditions: dict[str, Condition | None] = {"clean": None} | {
        c.name: c for c in conditions_from_params(channels, names, babble, SameVoicePool(partners))
    }
    ids = list(pd.read_csv(ROOT / TEST_MANIFEST, usecols=["id"])["id"])
    truth = np.array([emodb.LABELS[emodb.parse_id(rid).emotion_code] for rid in ids])
    artifact = ModelArtifact.load(ROOT / MODEL_DIR)
    paths = [ROOT / WAV_DIR / f"{rid}.wav" for rid in ids]
    print(f"{'condition':<18} {'n':>4} {'noisy':>6} {'reverb':>6} {'acc warned':>10} {'acc not':>8}")
    pooled_right, pooled_warned = [], []
    with Parallel(n_jobs=2) as pool:  # joblib: conditions hold closures that only cloudpickle sends
        for name, condition in conditions.items():
            table = ROOT / (FEATURES_FILE if condition is None else CHANNEL_FEATURES_DIR / f"{name}.parquet")
            features = pd.read_parquet(table).loc[ids].to_numpy(np.float32)
            answers = artifact.predict_proba(features).argmax(axis=1)
            right = answers == truth
            flags = pool(delayed(warnings_of)(path, condition) for path in paths)
            warned = np.array([bool(f) for f in flags])
            noisy = np.mean(["noisy" in f for f in flags])
            reverberant = np.mean(["reverberant" in f for f in flags])
            with_, without = (f"{right[m].mean():.3f}" if m.any() else "-" for m in (warned, ~warned))
            print(f"{name:<18} {len(ids):>4} {noisy:>6.2f} {reverberant:>6.2f} {with_:>10} {without:>8}", flush=True)
            pooled_right.append(right)
            pooled_warned.append(warned)
    right, warned = np.concatenate(pooled_right), np.concatenate(pooled_warned)
    print(
        f"all conditions: {warned.mean():.1%} of {warned.size} recordings warned; accuracy with a warning "
        f"{right[warned].mean():.3f}, without {right[~warned].mean():.3f}"
    )


if __name__ == "__main__":
    main()
