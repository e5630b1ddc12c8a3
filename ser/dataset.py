"""Feature tables: extract features for many recordings in parallel, clean or through a channel condition, and
join them with manifests."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from tqdm import tqdm

from ser import audio, emodb
from ser.channels import CLEAN, Condition
from ser.cv import ConditionedData
from ser.extraction import features_of_file
from ser.features import FeatureConfig, extract, feature_names
from ser.paths import FEATURES_FILE, channel_features_file

log = logging.getLogger(__name__)


class BabblePool:
    """Babble talkers drawn from given recordings, never of the speaker of the recording they are mixed into."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = sorted(Path(p) for p in paths)
        if not self.paths:
            raise ValueError("babble noise needs at least one recording to mix from")

    def __call__(self, rng: np.random.Generator, talkers: int, recording_id: str) -> list[np.ndarray]:
        speaker = emodb.parse_id(recording_id).speaker if emodb.is_valid_id(recording_id) else None
        candidates = [
            p for p in self.paths if not emodb.is_valid_id(p.stem) or emodb.parse_id(p.stem).speaker != speaker
        ]
        chosen = rng.choice(len(candidates), size=min(talkers, len(candidates)), replace=False)
        return [audio.decode(candidates[i], 16000)[0] for i in sorted(chosen)]


def features_of_recording(path: Path, config: FeatureConfig, condition: Condition | None = None) -> np.ndarray:
    """Features of one recording, clean or as heard through ``condition`` (seeded by the file's stem)."""
    if condition is None:
        return features_of_file(path, config)
    data, sr = audio.decode_channels(path)
    signal, sr = condition.apply(data.mean(axis=1), sr, path.stem)
    signal = audio.resample(signal, sr, config.sample_rate)
    audio.check_usable(signal, config.min_samples)
    return extract(signal, config.sample_rate, config)


def feature_table(
    wav_dir: Path, config: FeatureConfig, workers: int = 1, condition: Condition | None = None
) -> pd.DataFrame:
    """Features of every ``*.wav`` in ``wav_dir`` as a float32 table indexed by file id, sorted."""
    paths = sorted(wav_dir.glob("*.wav"))
    if not paths:
        raise FileNotFoundError(f"no wav files in {wav_dir}")
    jobs = (delayed(features_of_recording)(path, config, condition) for path in paths)
    runner = Parallel(n_jobs=workers, return_as="generator")
    desc = "features" if condition is None else f"features [{condition.name}]"
    vectors = list(tqdm(runner(jobs), total=len(paths), desc=desc, unit="file"))
    table = pd.DataFrame(np.vstack(vectors).astype(np.float32), columns=feature_names(config))
    table.index = pd.Index([p.stem for p in paths], name="id")
    log.info("extracted %d features for %d recordings (%s)", table.shape[1], table.shape[0], desc)
    return table


def join(manifest: pd.DataFrame, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature matrix, labels and speaker groups for the manifest's rows, in manifest order."""
    missing = sorted(set(manifest["id"]) - set(features.index))
    if missing:
        raise KeyError(f"{len(missing)} recordings have no features, e.g. {missing[:3]}")
    x = features.loc[manifest["id"]].to_numpy(dtype=np.float32)
    return x, manifest["label"].to_numpy(dtype=np.int64), manifest["speaker"].to_numpy()


def condition_features(name: str) -> pd.DataFrame:
    """The pipeline's feature table of one condition (``clean``: the recordings as they are)."""
    path = FEATURES_FILE if name == CLEAN else channel_features_file(name)
    if not path.exists():
        raise FileNotFoundError(f"no features for condition {name!r} at {path}: run dvc repro")
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
