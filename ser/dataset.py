"""Feature tables: extract features for many recordings in parallel, and join them with manifests."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from tqdm import tqdm

from ser.extraction import features_of_file
from ser.features import FeatureConfig, feature_names

log = logging.getLogger(__name__)


def feature_table(wav_dir: Path, config: FeatureConfig, workers: int = 1) -> pd.DataFrame:
    """Features of every ``*.wav`` in ``wav_dir`` as a float32 table indexed by file id, sorted."""
    paths = sorted(wav_dir.glob("*.wav"))
    if not paths:
        raise FileNotFoundError(f"no wav files in {wav_dir}")
    jobs = (delayed(features_of_file)(path, config) for path in paths)
    runner = Parallel(n_jobs=workers, return_as="generator")
    vectors = list(tqdm(runner(jobs), total=len(paths), desc="features", unit="file"))
    table = pd.DataFrame(np.vstack(vectors).astype(np.float32), columns=feature_names(config))
    table.index = pd.Index([p.stem for p in paths], name="id")
    log.info("extracted %d features for %d recordings", table.shape[1], table.shape[0])
    return table


def join(manifest: pd.DataFrame, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature matrix, labels and speaker groups for the manifest's rows, in manifest order."""
    missing = sorted(set(manifest["id"]) - set(features.index))
    if missing:
        raise KeyError(f"{len(missing)} recordings have no features, e.g. {missing[:3]}")
    x = features.loc[manifest["id"]].to_numpy(dtype=np.float32)
    return x, manifest["label"].to_numpy(dtype=np.int64), manifest["speaker"].to_numpy()
