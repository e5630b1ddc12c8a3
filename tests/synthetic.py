"""A synthetic archive in EmoDB layout: every emotion is a tone of its own pitch, every speaker its own noise."""

from __future__ import annotations

import itertools
import zipfile
from pathlib import Path

import numpy as np
import soundfile as sf

from ser.data import emodb
from ser.features.extractor import FeatureConfig

TEXTS = ["a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10"]
SR = emodb.SAMPLE_RATE


def synthetic_ids(n: int = emodb.N_RECORDINGS) -> list[str]:
    """``n`` valid EmoDB ids covering all speakers and emotions."""
    combos = itertools.product(TEXTS, sorted(emodb.SPEAKERS), emodb.CODES)
    return [f"{speaker}{text}{code}a" for text, speaker, code in itertools.islice(combos, n)]


def synthetic_signal(utterance_id: str, seconds: float = 0.25) -> np.ndarray:
    """A tone whose pitch encodes the emotion, with noise seeded by the whole id."""
    u = emodb.parse_id(utterance_id)
    rng = np.random.default_rng([ord(c) for c in utterance_id])
    t = np.arange(int(seconds * SR)) / SR
    f0 = 120.0 + 45.0 * u.label + 5.0 * int(u.speaker) % 7
    tone = 0.3 * np.sin(2 * np.pi * f0 * t) + 0.1 * np.sin(2 * np.pi * 2 * f0 * t)
    return (tone + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def write_wav_dir(wav_dir: Path, ids: list[str]) -> None:
    wav_dir.mkdir(parents=True, exist_ok=True)
    for utterance_id in ids:
        sf.write(wav_dir / f"{utterance_id}.wav", synthetic_signal(utterance_id), SR, subtype="PCM_16")


def make_archive(path: Path, ids: list[str] | None = None, extra: dict[str, bytes] | None = None) -> Path:
    """Write a zip in the official layout (wav/, erkennung.txt, ...) holding ``ids``."""
    staging = path.parent / f"{path.stem}-content"
    write_wav_dir(staging / "wav", ids if ids is not None else synthetic_ids())
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for wav in sorted((staging / "wav").glob("*.wav")):
            archive.write(wav, f"wav/{wav.name}")
        archive.writestr("erkennung.txt", "synthetic\n")
        archive.writestr("erklaerung.txt", "synthetic\n")
        archive.writestr("lablaut/README", "synthetic\n")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def light_config(**choices: object) -> FeatureConfig:
    """The librosa statistics alone (no encoder, level as recorded): fast features for tests of other things."""
    return FeatureConfig(**{"whisper_blocks": None, "level_dbfs": None, "voice_encoder_floor_db": None, **choices})
