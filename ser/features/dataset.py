"""Feature tables: extract features for many recordings in parallel, clean or through a channel condition."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from tqdm import tqdm

from ser.audio import decoding as audio
from ser.audio.mixing import mix_down
from ser.data import emodb
from ser.errors import DataMissing
from ser.features.extraction import features_of_file
from ser.features.extractor import FeatureConfig, extract, feature_names

if TYPE_CHECKING:  # the clean features stage does not depend on the channel code
    from ser.audio.channels import Condition

log = logging.getLogger(__name__)


def _speaker(recording_id: str) -> str | None:
    return emodb.parse_id(recording_id).speaker if emodb.is_valid_id(recording_id) else None


class BabblePool:
    """Babble talkers drawn from given recordings, never of the speaker of the recording they are mixed into."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = sorted(Path(p) for p in paths)
        if not self.paths:
            raise DataMissing("babble noise needs at least one recording to mix from")
        self._speakers = [_speaker(p.stem) for p in self.paths]

    def __call__(self, rng: np.random.Generator, talkers: int, recording_id: str) -> list[np.ndarray]:
        speaker = _speaker(recording_id)
        candidates = [
            p for p, other in zip(self.paths, self._speakers, strict=True) if other is None or other != speaker
        ]
        chosen = rng.choice(len(candidates), size=min(talkers, len(candidates)), replace=False)
        return [audio.decode(candidates[i], 16000)[0] for i in sorted(chosen)]


class SameVoicePool:
    """For the ``join`` channel step: another recording of a recording's speaker in its emotion (EmoDB ids), so a
    joined copy keeps its label and its speaker (it never crosses the train/test split)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._groups: dict[tuple[str, str], list[Path]] = {}
        for path in sorted(Path(p) for p in paths):
            if emodb.is_valid_id(path.stem):
                utterance = emodb.parse_id(path.stem)
                self._groups.setdefault((utterance.speaker, utterance.emotion_code), []).append(path)

    def __call__(self, rng: np.random.Generator, recording_id: str) -> np.ndarray | None:
        if not emodb.is_valid_id(recording_id):
            return None
        utterance = emodb.parse_id(recording_id)
        group = self._groups.get((utterance.speaker, utterance.emotion_code), [])
        others = [path for path in group if path.stem != recording_id]
        if not others:
            return None
        chosen = others[int(rng.integers(len(others)))]
        if _speaker(chosen.stem) != utterance.speaker:
            raise AssertionError("a joined recording must be of the same speaker")
        return audio.decode(chosen, 16000)[0]


def heard_through(path: Path, condition: Condition | None, sample_rate: int) -> np.ndarray:
    """A recording mixed to mono, through ``condition`` if one is given (seeded by the file's stem), at
    ``sample_rate``: what the pipeline's channel features and speaker space are computed from."""
    data, sr = audio.decode_channels(path)
    signal = mix_down(data)
    if condition is not None:
        signal, sr = condition.apply(signal, sr, path.stem)
    return audio.resample(signal, sr, sample_rate)


def features_of_recording(path: Path, config: FeatureConfig, condition: Condition | None = None) -> np.ndarray:
    """Features of one recording, clean or as heard through ``condition`` (seeded by the file's stem)."""
    if condition is None:
        return features_of_file(path, config)
    signal = heard_through(path, condition, config.sample_rate)
    audio.check_usable(signal, config.min_samples)
    return extract(signal, config.sample_rate, config)


def feature_table(
    wav_dir: Path, config: FeatureConfig, workers: int = 1, condition: Condition | None = None
) -> pd.DataFrame:
    """Features of every ``*.wav`` in ``wav_dir`` as a float32 table indexed by file id, sorted."""
    paths = sorted(wav_dir.glob("*.wav"))
    if not paths:
        raise DataMissing(f"no wav files in {wav_dir}")
    jobs = (delayed(features_of_recording)(path, config, condition) for path in paths)
    runner = Parallel(n_jobs=workers, return_as="generator")
    desc = "features" if condition is None else f"features [{condition.name}]"
    vectors = list(tqdm(runner(jobs), total=len(paths), desc=desc, unit="file"))
    table = pd.DataFrame(np.vstack(vectors).astype(np.float32), columns=feature_names(config))
    table.index = pd.Index([p.stem for p in paths], name="id")
    log.info("extracted %d features for %d recordings (%s)", table.shape[1], table.shape[0], desc)
    return table
