"""The pipeline's feature tables of clean and channel-condition audio, joined with a manifest for CV and training."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ser.audio.channels import CLEAN
from ser.errors import DataMissing
from ser.models.cv import ConditionedData
from ser.pipeline.paths import FEATURES_FILE, channel_features_file


def join(manifest: pd.DataFrame, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature matrix, labels and speaker groups for the manifest's rows, in manifest order."""
    missing = sorted(set(manifest["id"]) - set(features.index))
    if missing:
        raise DataMissing(f"{len(missing)} recordings have no features, e.g. {missing[:3]}")
    x = features.loc[manifest["id"]].to_numpy(dtype=np.float32)
    return x, manifest["label"].to_numpy(dtype=np.int64), manifest["speaker"].to_numpy()


def condition_features(name: str) -> pd.DataFrame:
    """The pipeline's feature table of one condition (``clean``: the recordings as they are)."""
    path = FEATURES_FILE if name == CLEAN else channel_features_file(name)
    if not path.exists():
        raise DataMissing(f"no features for condition {name!r} at {path}: run dvc repro")
    return pd.read_parquet(path)


def conditioned_data(
    manifest: pd.DataFrame, train_conditions: Sequence[str], score_conditions: Sequence[str]
) -> ConditionedData:
    """The manifest's recordings clean and through each named condition, for training and scoring."""
    names = list(dict.fromkeys([*train_conditions, *score_conditions]))
    x, y, speakers = {}, None, None
    for name in names:
        x[name], y, speakers = join(manifest, condition_features(name))
    return ConditionedData(x, y, speakers, tuple(train_conditions), tuple(score_conditions))
