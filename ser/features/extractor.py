"""Utterance-level acoustic features: librosa frame features reduced by statistics, plus (optionally) statistics of
pretrained encoders' hidden states: Whisper tiny.en's (``whisper_encoder``, the default) and a speaker-verification
voice encoder's (``voice_encoder``).

``extract(signal, sr, config)`` is the one feature path shared by training and serving.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import librosa
import numpy as np

from ser.errors import ParamsError
from ser.features import compiled
from ser.features import voice_encoder as voice
from ser.features import whisper_encoder as whisper

STATISTICS = ("mean", "std", "min", "max", "p10", "p25", "p50", "p75", "p90", "range", "slope", "skew", "kurtosis")
SPECTRAL = ("centroid", "bandwidth", "rolloff", "flatness", "zcr", "rms_db")


@dataclass(frozen=True)
class FeatureConfig:
    """What ``extract`` computes. The defaults are the ``features:`` block of params.yaml (tested), so
    ``FeatureConfig()`` is the configuration the pipeline trains and the API serves."""

    sample_rate: int = 16_000
    frame_length: int = 512
    hop_length: int = 160
    n_mels: int = 64
    n_mfcc: int = 20
    mfcc_deltas: bool = True
    spectral_contrast: bool = True
    pitch: bool = True
    pitch_fmin_hz: float = 60.0
    pitch_fmax_hz: float = 500.0
    silence_db: float = 40.0
    trim_silence: bool = True
    statistics: tuple[str, ...] = ("mean", "std", "p10", "p50", "p90", "slope")
    voice_encoder: bool = False
    voice_encoder_layer: int = 3
    voice_encoder_floor_db: float | None = 20.0
    whisper_blocks: int | tuple[int, ...] | None = (2, 4)
    whisper_int8: bool = True
    # Front end, before any feature: the recording's DC offset removed, the active speech level set to this many
    # dBFS (null: as recorded), and the signal band-limited to this many Hz (null: full band), so that offset, level
    # and bandwidth stop being cues.
    remove_dc: bool = True
    level_dbfs: float | None = -20.0
    bandwidth_hz: float | None = None

    def __post_init__(self) -> None:
        if self.level_dbfs is not None and not -60 <= self.level_dbfs <= 0:
            raise ParamsError("features.level_dbfs must be between -60 and 0 dBFS, or null")
        if self.bandwidth_hz is not None and not 1000 <= self.bandwidth_hz < self.sample_rate / 2:
            raise ParamsError(f"features.bandwidth_hz must be 1000 to {self.sample_rate // 2} Hz, or null")
        if self.whisper_blocks is not None:
            if self.sample_rate != whisper.SAMPLE_RATE:
                raise ParamsError(f"features.whisper_blocks needs sample_rate {whisper.SAMPLE_RATE}")
            blocks = [self.whisper_blocks] if not isinstance(self.whisper_blocks, list | tuple) else self.whisper_blocks
            if not blocks or any(isinstance(b, bool) or b not in range(1, whisper.BLOCKS + 1) for b in blocks):
                raise ParamsError(
                    f"features.whisper_blocks must be 1 to {whisper.BLOCKS} or a list of them, or null for none"
                )
            # One spelling per choice (2 and [2] are the same features), hashable for the warm-up cache.
            object.__setattr__(self, "whisper_blocks", blocks[0] if len(blocks) == 1 else tuple(blocks))
        if self.voice_encoder and self.sample_rate != voice.SAMPLE_RATE:
            raise ParamsError(f"features.voice_encoder needs sample_rate {voice.SAMPLE_RATE}")
        if not 1 <= self.voice_encoder_layer <= voice.LAYERS:
            raise ParamsError(f"features.voice_encoder_layer must be 1 to {voice.LAYERS}")
        if self.voice_encoder_floor_db is not None and not self.voice_encoder_floor_db > 0:
            raise ParamsError("features.voice_encoder_floor_db must be above 0 dB, or null for every frame")
        unknown = sorted(set(self.statistics) - set(STATISTICS))
        if unknown:
            raise ParamsError(f"unknown feature statistics {unknown}; choose from {list(STATISTICS)}")
        if self.hop_length <= 0 or self.frame_length < self.hop_length:
            raise ParamsError("features need 0 < hop_length <= frame_length")
        if not 0 < self.pitch_fmin_hz < self.pitch_fmax_hz < self.sample_rate / 2:
            raise ParamsError("features need 0 < pitch_fmin_hz < pitch_fmax_hz < sample_rate/2")

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> FeatureConfig:
        """Build from the ``features:`` params block, ignoring keys that are not feature choices."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in params.items() if k in known}
        if "statistics" in values:
            values["statistics"] = tuple(values["statistics"])
        return cls(**values)

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> FeatureConfig:
        """Build from a model artifact's ``feature_config``. A choice added after the artifact was written is
        absent from it and was off then (not today's default), so old models keep extracting what they learnt."""
        return cls.from_params({**ABSENT_FROM_OLD_ARTIFACTS, **stored})

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["statistics"] = list(self.statistics)
        if isinstance(self.whisper_blocks, tuple):
            values["whisper_blocks"] = list(self.whisper_blocks)
        return values

    @property
    def min_samples(self) -> int:
        """Shortest signal (in samples) the features are defined for."""
        return self.frame_length


# Feature choices added after the first artifacts, with the value that an artifact without them was trained with.
ABSENT_FROM_OLD_ARTIFACTS: dict[str, Any] = {
    "voice_encoder": False,
    "voice_encoder_floor_db": None,
    "whisper_blocks": None,
    "whisper_int8": False,
    "level_dbfs": None,
    "bandwidth_hz": None,
    "remove_dc": False,
}


def prepare(config: FeatureConfig) -> None:
    """Make the first ``extract`` with ``config`` as fast as the next ones: load the voice encoder's weights, and
    extract the features of half a second of a synthetic tone once per process, which compiles (or loads from
    numba's cache) librosa's and the encoder's numba code. On a cold numba cache that takes about 15 s, which a
    server then spends at start-up instead of on its first request.

    Raises ``pretrained.PretrainedWeightsMissing`` when an encoder's weights are not installed.
    """
    if config.voice_encoder:
        voice.encoder()
    if config.whisper_blocks is not None:
        whisper.encoder(max(whisper.as_blocks(config.whisper_blocks)), config.whisper_int8)
    _compile(config)


def _compile(config: FeatureConfig) -> None:
    """The first extraction with ``config`` in this process, on a tone, one process at a time (``compiled.once``)."""
    compiled.once(("features", config), lambda: _extract(_tone(config.sample_rate), config.sample_rate, config))


def _tone(sr: int) -> np.ndarray:
    """Half a second of a 150 Hz tone, its level swinging 3 times a second: enough for every feature."""
    seconds = np.arange(sr // 2) / sr
    return (0.1 * np.sin(2 * np.pi * 150.0 * seconds) * (1.0 + 0.5 * np.sin(2 * np.pi * 3.0 * seconds))).astype(
        np.float32
    )


def _frame_feature_names(config: FeatureConfig) -> list[str]:
    names = [f"mfcc{i}" for i in range(config.n_mfcc)]
    if config.mfcc_deltas:
        names += [f"mfcc{i}_d1" for i in range(config.n_mfcc)]
        names += [f"mfcc{i}_d2" for i in range(config.n_mfcc)]
    names += list(SPECTRAL)
    if config.spectral_contrast:
        names += [f"contrast{i}" for i in range(7)]
    return names


def _pitch_feature_names(config: FeatureConfig) -> list[str]:
    if not config.pitch:
        return []
    names = [f"f0_semitones_{stat}" for stat in config.statistics]
    names += [f"f0_delta_{stat}" for stat in ("mean", "std")]
    return [*names, "voiced_ratio"]


GLOBAL_FEATURES = ("duration_s", "active_ratio", "onset_rate")


def feature_names(config: FeatureConfig) -> list[str]:
    """Names of the vector ``extract`` returns, in order."""
    frame = [f"{name}_{stat}" for name in _frame_feature_names(config) for stat in config.statistics]
    voice_names = voice.feature_names() if config.voice_encoder else []
    whisper_names = whisper.feature_names(config.whisper_blocks) if config.whisper_blocks is not None else []
    return frame + _pitch_feature_names(config) + list(GLOBAL_FEATURES) + voice_names + whisper_names


def _statistics(matrix: np.ndarray, statistics: tuple[str, ...]) -> np.ndarray:
    """Reduce a (n_features, n_frames) matrix to (n_features, n_statistics)."""
    n_frames = matrix.shape[1]
    if n_frames == 0:
        return np.zeros((matrix.shape[0], len(statistics)))
    quantiles = {}
    wanted_q = {"p10": 10, "p25": 25, "p50": 50, "p75": 75, "p90": 90}
    needed = sorted(
        {q for s, q in wanted_q.items() if s in statistics} | ({10, 90} if "range" in statistics else set())
    )
    if needed:
        values = np.percentile(matrix, needed, axis=1)
        quantiles = dict(zip(needed, values, strict=True))
    mean = matrix.mean(axis=1)
    std = matrix.std(axis=1)
    columns = []
    for stat in statistics:
        if stat == "mean":
            columns.append(mean)
        elif stat == "std":
            columns.append(std)
        elif stat == "min":
            columns.append(matrix.min(axis=1))
        elif stat == "max":
            columns.append(matrix.max(axis=1))
        elif stat in wanted_q:
            columns.append(quantiles[wanted_q[stat]])
        elif stat == "range":
            columns.append(quantiles[90] - quantiles[10])
        elif stat == "slope":
            t = np.linspace(-1.0, 1.0, n_frames) if n_frames > 1 else np.zeros(1)
            denom = float(t @ t) or 1.0
            columns.append((matrix - mean[:, None]) @ t / denom)
        else:
            z = (matrix - mean[:, None]) / np.where(std > 0, std, 1.0)[:, None]
            columns.append((z**3).mean(axis=1) if stat == "skew" else (z**4).mean(axis=1) - 3.0)
    return np.stack(columns, axis=1)


def _pitch_features(signal: np.ndarray, sr: int, voiced_frames: np.ndarray, config: FeatureConfig) -> np.ndarray:
    f0 = librosa.yin(
        signal,
        fmin=config.pitch_fmin_hz,
        fmax=config.pitch_fmax_hz,
        sr=sr,
        frame_length=max(config.frame_length, int(np.ceil(2 * sr / config.pitch_fmin_hz))),
        hop_length=config.hop_length,
        center=True,
    )
    n = min(len(f0), len(voiced_frames))
    f0, active = f0[:n], voiced_frames[:n]
    voiced = active & (f0 > config.pitch_fmin_hz * 1.05) & (f0 < config.pitch_fmax_hz * 0.95)
    semitones = 12.0 * np.log2(f0[voiced] / 100.0) if voiced.any() else np.zeros(0)
    stats = _statistics(semitones[None, :], config.statistics)[0]
    delta = np.diff(semitones) if semitones.size > 1 else np.zeros(1)
    voiced_ratio = float(voiced.sum()) / max(int(active.sum()), 1)
    return np.concatenate([stats, [delta.mean(), delta.std(), voiced_ratio]])


def trim(signal: np.ndarray, top_db: float) -> np.ndarray:
    """Drop leading and trailing samples quieter than ``top_db`` below the peak.

    Sample-accurate on purpose (librosa.effects.trim works on frames): a file and the same utterance cut from a
    longer recording at any offset then start their frames on the same sample and get the same features.
    """
    magnitude = np.abs(signal)
    peak = float(magnitude.max()) if magnitude.size else 0.0
    if peak == 0.0:
        return signal
    loud = np.flatnonzero(magnitude > peak * 10.0 ** (-top_db / 20.0))
    return signal[loud[0] : loud[-1] + 1]


def active_level_db(signal: np.ndarray, sr: int) -> float:
    """Level of the loud part of a signal: the 90th percentile of its 20 ms frame RMS, in dBFS.

    A percentile of frames, not the peak: one click or a burst of line noise does not move it.
    """
    frame = max(1, sr // 50)
    rms = librosa.feature.rms(y=signal, frame_length=frame, hop_length=frame // 2, center=False)[0]
    return float(20.0 * np.log10(max(float(np.percentile(rms, 90)) if rms.size else 0.0, 1e-10)))


def front_end(signal: np.ndarray, sr: int, config: FeatureConfig) -> np.ndarray:
    """Remove the DC offset, trim leading and trailing silence, limit the band and set the level as ``config`` asks.

    A DC offset (some handsets and sound cards add one) would otherwise raise the measured level and hide the
    silence from the trimming: subtracting the mean makes the features the same with and without it.
    """
    if config.remove_dc:
        signal = signal - np.float32(np.mean(signal, dtype=np.float64))
    if config.trim_silence:
        trimmed = trim(signal, config.silence_db)
        if trimmed.size >= config.min_samples:
            signal = trimmed
    if config.bandwidth_hz is not None:
        narrow = int(2 * config.bandwidth_hz)
        signal = librosa.resample(
            librosa.resample(signal, orig_sr=sr, target_sr=narrow, res_type="soxr_hq"),
            orig_sr=narrow,
            target_sr=sr,
            res_type="soxr_hq",
        )[: signal.size]
    if config.level_dbfs is not None:
        signal = signal * np.float32(10.0 ** ((config.level_dbfs - active_level_db(signal, sr)) / 20.0))
    return np.ascontiguousarray(signal, dtype=np.float32)


def extract(signal: np.ndarray, sr: int, config: FeatureConfig) -> np.ndarray:
    """Feature vector of one mono float signal sampled at ``sr`` (must equal ``config.sample_rate``)."""
    _compile(config)
    return _extract(signal, sr, config)


def _extract(signal: np.ndarray, sr: int, config: FeatureConfig) -> np.ndarray:
    if sr != config.sample_rate:
        raise ValueError(f"signal is sampled at {sr} Hz, features expect {config.sample_rate} Hz")
    signal = np.asarray(signal, dtype=np.float32)
    if signal.ndim != 1:
        raise ValueError("extract expects a mono signal")
    if signal.size < config.min_samples:
        raise ValueError(f"signal too short: {signal.size} samples, need at least {config.min_samples}")
    if not np.all(np.isfinite(signal)):
        raise ValueError("signal contains NaN or infinite samples")
    signal = front_end(signal, sr, config)

    power = np.abs(librosa.stft(signal, n_fft=config.frame_length, hop_length=config.hop_length)) ** 2
    mel = librosa.feature.melspectrogram(S=power, sr=sr, n_mels=config.n_mels)
    log_mel = librosa.power_to_db(mel, ref=1.0, top_db=None)
    mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=config.n_mfcc)
    magnitude = np.sqrt(power)
    rms = librosa.feature.rms(S=magnitude, frame_length=config.frame_length)
    rms_db = librosa.amplitude_to_db(rms, ref=1.0, amin=1e-5)

    rows = [mfcc]
    if config.mfcc_deltas:
        width = min(9, mfcc.shape[1] if mfcc.shape[1] % 2 else mfcc.shape[1] - 1)
        if width >= 3:
            rows += [librosa.feature.delta(mfcc, width=width), librosa.feature.delta(mfcc, order=2, width=width)]
        else:
            rows += [np.zeros_like(mfcc), np.zeros_like(mfcc)]
    rows += [
        librosa.feature.spectral_centroid(S=magnitude, sr=sr),
        librosa.feature.spectral_bandwidth(S=magnitude, sr=sr),
        librosa.feature.spectral_rolloff(S=magnitude, sr=sr),
        librosa.feature.spectral_flatness(S=magnitude),
        librosa.feature.zero_crossing_rate(signal, frame_length=config.frame_length, hop_length=config.hop_length),
        rms_db,
    ]
    if config.spectral_contrast:
        rows.append(librosa.feature.spectral_contrast(S=magnitude, sr=sr, fmin=100.0))
    n_frames = min(row.shape[1] for row in rows)
    frames = np.vstack([row[:, :n_frames] for row in rows]).astype(np.float64)

    active = rms_db[0, :n_frames] > rms_db.max() - config.silence_db
    parts = [_statistics(frames, config.statistics).ravel()]
    if config.pitch:
        parts.append(_pitch_features(signal, sr, active, config))
    duration = signal.size / sr
    envelope = librosa.onset.onset_strength(S=log_mel, sr=sr)
    onsets = librosa.onset.onset_detect(onset_envelope=envelope, sr=sr, hop_length=config.hop_length)
    parts.append(np.array([duration, float(active.mean()), len(onsets) / duration]))
    if config.voice_encoder:
        parts.append(voice.features(signal, sr, config.voice_encoder_layer, config.voice_encoder_floor_db))
    if config.whisper_blocks is not None:
        parts.append(whisper.features(signal, sr, config.whisper_blocks, config.whisper_int8))
    vector = np.concatenate(parts)
    return np.nan_to_num(vector, nan=0.0, posinf=0.0, neginf=0.0)
