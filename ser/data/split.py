"""Speaker-disjoint train/test split of EmoDB into manifests."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ser.data import emodb
from ser.errors import SerError

MANIFEST_COLUMNS = ["id", "speaker", "sex", "text", "emotion_code", "emotion", "label"]


class SplitError(SerError, ValueError):
    """The requested split is impossible or leaks speakers."""


def manifest(wav_dir: Path) -> pd.DataFrame:
    """One row per recording in ``wav_dir``, sorted by id."""
    rows = []
    for wav in sorted(wav_dir.glob("*.wav")):
        u = emodb.parse_id(wav.stem)
        rows.append([u.id, u.speaker, u.sex, u.text, u.emotion_code, u.emotion, u.label])
    return pd.DataFrame(rows, columns=MANIFEST_COLUMNS)


def speaker_split(table: pd.DataFrame, test_speakers: Iterable[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a manifest so that every recording of ``test_speakers`` is in test and no other is."""
    test_set = {str(s).zfill(2) for s in test_speakers}
    known = set(table["speaker"])
    if not test_set:
        raise SplitError("split.test_speakers is empty")
    unknown = sorted(test_set - known)
    if unknown:
        raise SplitError(f"unknown test speakers {unknown}; known: {sorted(known)}")
    if len(known - test_set) < 2:
        raise SplitError("at least two training speakers are needed for leave-one-speaker-out CV")
    is_test = table["speaker"].isin(test_set)
    train, test = table[~is_test].reset_index(drop=True), table[is_test].reset_index(drop=True)
    assert_speaker_disjoint(train, test)
    return train, test


def assert_speaker_disjoint(train: pd.DataFrame, test: pd.DataFrame) -> None:
    """Raise SplitError when a speaker or a recording appears on both sides."""
    shared = sorted(set(train["speaker"]) & set(test["speaker"]))
    if shared:
        raise SplitError(f"speakers {shared} are in both train and test")
    if set(train["id"]) & set(test["id"]):
        raise SplitError("recordings appear in both train and test")


def read_manifest(path: Path) -> pd.DataFrame:
    """Load a manifest written by the split stage, keeping ids and speakers as strings."""
    return pd.read_csv(path, dtype={"id": str, "speaker": str, "text": str})
