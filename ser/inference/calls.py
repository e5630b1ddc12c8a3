"""Call recordings: speech segments by energy, an emotion per segment, summaries and a satisfaction score.

Audio is read twice in blocks, so memory stays bounded however long the call: a first pass computes the
frame energy envelope (librosa RMS) per block, a second reads only the segments, one at a time.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import librosa
import numpy as np
import soundfile as sf
from joblib import Parallel, delayed
from tqdm import tqdm

from ser.audio.decoding import UNDECODABLE, AudioError, AudioTooLong, seekable
from ser.data import emodb
from ser.errors import ParamsError
from ser.features.extractor import extract
from ser.inference.predictor import Predictor
from ser.pipeline.params import load_params

# Satisfaction weight of each emotion: the score of a segment is sum(p(emotion) * weight), in [-1, 1].
DEFAULT_SATISFACTION_WEIGHTS: dict[str, float] = {
    "happiness": 1.0,
    "neutral": 0.2,
    "boredom": -0.2,
    "sadness": -0.6,
    "fear": -0.6,
    "disgust": -0.9,
    "anger": -1.0,
}


@dataclass(frozen=True)
class AnalysisConfig:
    """Segmentation thresholds and the satisfaction mapping; mirrors the ``analysis:`` block of params.yaml."""

    top_db: float = 45.0
    floor_db: float = -55.0
    min_segment_s: float = 0.4
    max_segment_s: float = 10.0
    min_gap_s: float = 0.35
    padding_s: float = 0.05
    context_s: float = 0.3
    hop_s: float = 0.01
    block_s: float = 30.0
    satisfaction_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SATISFACTION_WEIGHTS))

    def __post_init__(self) -> None:
        unknown = set(self.satisfaction_weights) - set(emodb.EMOTIONS.values())
        if unknown or any(not -1.0 <= w <= 1.0 for w in self.satisfaction_weights.values()):
            raise ParamsError("satisfaction_weights maps emotion names to weights in [-1, 1]")
        if not 0 < self.min_segment_s <= self.max_segment_s:
            raise ParamsError("analysis needs 0 < min_segment_s <= max_segment_s")

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> AnalysisConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in params.items() if k in known})

    @classmethod
    def from_params_file(cls, path: Path) -> AnalysisConfig:
        """The ``analysis:`` block of a params file, or the defaults when there is no such file."""
        if not path.is_file():
            return cls()
        return cls.from_params(load_params(path).get("analysis") or {})


@dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    channel: int


def _open(source: str | Path | bytes) -> sf.SoundFile:
    try:
        return sf.SoundFile(io.BytesIO(source) if isinstance(source, bytes | bytearray) else source)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        raise AudioError(UNDECODABLE) from None


def _channels(block: np.ndarray, per_channel: bool) -> list[np.ndarray]:
    return [block[:, c] for c in range(block.shape[1])] if per_channel else [block.mean(axis=1)]


def _envelopes(audio: sf.SoundFile, per_channel: bool, config: AnalysisConfig) -> tuple[np.ndarray, float]:
    """Frame RMS in dB (channels x frames) at ``hop_s``, computed block by block."""
    hop = max(1, round(config.hop_s * audio.samplerate))
    block = hop * max(1, round(config.block_s / config.hop_s))
    rows: list[list[np.ndarray]] = []
    audio.seek(0)
    for data in audio.blocks(blocksize=block, dtype="float32", always_2d=True, fill_value=None):
        for index, channel in enumerate(_channels(data, per_channel)):
            if not np.all(np.isfinite(channel)):
                raise AudioError("audio contains NaN or infinite samples")
            rms = librosa.feature.rms(y=channel, frame_length=hop, hop_length=hop, center=False)[0]
            if len(rows) <= index:
                rows.append([])
            rows[index].append(rms)
    if not rows:
        raise AudioError("audio contains no samples")
    envelopes = np.vstack([np.concatenate(r) for r in rows])
    return librosa.amplitude_to_db(envelopes, ref=1.0, amin=1e-6, top_db=None), hop / audio.samplerate


def _runs(active: np.ndarray) -> Iterator[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], active.astype(np.int8), [0]])))
    yield from zip(edges[::2], edges[1::2], strict=True)


def segment(
    source: str | Path | bytes, per_channel: bool, config: AnalysisConfig, max_seconds: float = float("inf")
) -> tuple[list[Segment], float, int]:
    """Speech segments of a recording; also its duration in seconds and its number of channels.

    The duration is checked against ``max_seconds`` from the header, before any audio is decoded.
    """
    with _open(source) as audio:
        duration, n_channels = audio.frames / audio.samplerate, audio.channels
        if duration > max_seconds:
            raise AudioTooLong(f"audio lasts {duration:.1f} s, more than the {max_seconds:g} s allowed")
        envelopes, hop_s = _envelopes(audio, per_channel, config)
    segments = []
    for channel, db in enumerate(envelopes):
        reference = float(db.max()) if db.size else -np.inf
        if reference < config.floor_db:
            continue  # silence (or near silence) only
        runs = [[start, end] for start, end in _runs(db > reference - config.top_db)]
        merged: list[list[int]] = []
        for start, end in runs:
            if merged and (start - merged[-1][1]) * hop_s < config.min_gap_s:
                merged[-1][1] = end
            else:
                merged.append([start, end])
        for start, end in merged:
            start_s, end_s = start * hop_s, end * hop_s
            if end_s - start_s < config.min_segment_s:
                continue
            pieces = int(np.ceil((end_s - start_s) / config.max_segment_s))
            step = (end_s - start_s) / pieces
            for piece in range(pieces):
                s = max(0.0, start_s + piece * step - (config.padding_s if piece == 0 else 0.0))
                e = min(duration, start_s + (piece + 1) * step + (config.padding_s if piece == pieces - 1 else 0.0))
                segments.append(Segment(round(s, 3), round(e, 3), channel))
    return sorted(segments, key=lambda seg: (seg.start_s, seg.channel)), duration, n_channels


def _segment_signal(
    audio: sf.SoundFile, start_s: float, end_s: float, channel: int, per_channel: bool, target_sr: int
) -> np.ndarray:
    audio.seek(int(start_s * audio.samplerate))
    data = audio.read(int((end_s - start_s) * audio.samplerate), dtype="float32", always_2d=True)
    signal = data[:, channel] if per_channel else data.mean(axis=1)
    if audio.samplerate != target_sr:
        signal = librosa.resample(signal, orig_sr=audio.samplerate, target_sr=target_sr, res_type="soxr_hq")
    return signal


def _classification_windows(
    segments: list[Segment], duration: float, context_s: float
) -> dict[Segment, tuple[float, float]]:
    """Each segment with ``context_s`` around it, never reaching into a neighbour on the same channel.

    The feature extraction trims the window's leading and trailing silence itself, so the classifier sees the
    same samples as for the utterance on its own.
    """
    windows = {}
    for channel in {seg.channel for seg in segments}:
        same = [seg for seg in segments if seg.channel == channel]
        for position, seg in enumerate(same):
            low = same[position - 1].end_s if position else 0.0
            high = same[position + 1].start_s if position + 1 < len(same) else duration
            windows[seg] = (max(low, seg.start_s - context_s), min(high, seg.end_s + context_s))
    return windows


def satisfaction(probabilities: dict[str, float], weights: dict[str, float]) -> float:
    """Expected satisfaction weight under the emotion probabilities: -1 (very unsatisfied) to +1 (very satisfied)."""
    return float(sum(p * weights.get(emotion, 0.0) for emotion, p in probabilities.items()))


def _summary(timeline: list[dict[str, Any]], weights: dict[str, float]) -> dict[str, Any]:
    spoken = sum(item["end_s"] - item["start_s"] for item in timeline)
    shares = {name: 0.0 for name in emodb.EMOTIONS.values()}
    for item in timeline:
        shares[item["emotion"]] += (item["end_s"] - item["start_s"]) / spoken
    score = sum(item["satisfaction"] * (item["end_s"] - item["start_s"]) for item in timeline) / spoken
    return {
        "segments": len(timeline),
        "speech_s": round(spoken, 3),
        "emotion_shares": {name: round(share, 4) for name, share in shares.items()},
        "dominant_emotion": max(shares, key=shares.get),
        "satisfaction": round(score, 4),
    }


def _windows_in_batches(
    audio: sf.SoundFile,
    segments: list[Segment],
    windows: dict[Segment, tuple[float, float]],
    per_channel: bool,
    sample_rate: int,
    batch: int,
) -> Iterator[list[tuple[Segment, np.ndarray]]]:
    """Segments with their classification window's samples, ``batch`` at a time (bounded memory)."""
    pending = []
    for seg in segments:
        start, end = windows[seg]
        pending.append((seg, _segment_signal(audio, start, end, seg.channel, per_channel, sample_rate)))
        if len(pending) == batch:
            yield pending
            pending = []
    if pending:
        yield pending


def analyze(
    source: str | Path | bytes,
    predictor: Predictor,
    config: AnalysisConfig,
    per_channel: bool = False,
    max_seconds: float = float("inf"),
    progress: bool = False,
    workers: int = 1,
) -> dict[str, Any]:
    """Timeline, per-channel summaries and satisfaction score of a recording (see module docstring).

    ``workers`` > 1 extracts the features of several segments at once in worker processes (for the CLI; the API
    keeps one process per request); the result does not depend on it.
    """
    with seekable(source, max_seconds) as readable:
        return _analyze(readable, predictor, config, per_channel, max_seconds, progress, workers)


def _analyze(
    source: str | Path | bytes,
    predictor: Predictor,
    config: AnalysisConfig,
    per_channel: bool,
    max_seconds: float,
    progress: bool,
    workers: int,
) -> dict[str, Any]:
    segments, duration, n_channels = segment(source, per_channel, config, max_seconds)
    features_config = predictor.feature_config
    sample_rate = features_config.sample_rate
    timeline: list[dict[str, Any]] = []
    runner = Parallel(n_jobs=workers) if workers > 1 else None
    bar = tqdm(total=len(segments), desc="segments", unit="segment", disable=not progress)
    with _open(source) as audio, bar:
        windows = _classification_windows(segments, duration, config.context_s)
        batches = _windows_in_batches(audio, segments, windows, per_channel, sample_rate, batch=8 * max(workers, 1))
        for batch in batches:
            usable = [(seg, signal) for seg, signal in batch if signal.size >= features_config.min_samples]
            if runner:
                vectors = runner(delayed(extract)(signal, sample_rate, features_config) for _, signal in usable)
            else:
                vectors = [extract(signal, sample_rate, features_config) for _, signal in usable]
            bar.update(len(batch))
            if not usable:
                continue
            answers = predictor.predict_features(np.vstack(vectors))
            for (seg, _), answer in zip(usable, answers, strict=True):
                timeline.append({
                    "start_s": seg.start_s,
                    "end_s": seg.end_s,
                    "channel": seg.channel,
                    "emotion": answer["class"]["emotion"],
                    "probabilities": answer["probabilities"],
                    "satisfaction": round(satisfaction(answer["probabilities"], config.satisfaction_weights), 4),
                })  # fmt: skip
    channels = range(n_channels) if per_channel else range(1)
    summaries = {
        str(c): _summary([t for t in timeline if t["channel"] == c], config.satisfaction_weights)
        for c in channels
        if any(t["channel"] == c for t in timeline)
    }
    overall = _summary(timeline, config.satisfaction_weights) if timeline else None
    return {
        "duration_s": round(duration, 3),
        "channels": n_channels,
        "per_channel": per_channel,
        "model_version": predictor.version,
        "timeline": timeline,
        "summary": summaries,
        "satisfaction": overall["satisfaction"] if overall else None,
        "satisfaction_weights": config.satisfaction_weights,
    }
