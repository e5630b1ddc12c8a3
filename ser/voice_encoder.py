"""Utterance statistics of a pretrained voice encoder's hidden states (Resemblyzer's GE2E LSTM).

The encoder was trained for speaker verification on LibriSpeech and VoxCeleb (no emotion labels, no EmoDB);
its top LSTM layer still carries much of how a voice is used. We take the mean and standard deviation over time
of that layer's outputs for the whole utterance. The weights ship inside the ``resemblyzer`` wheel on PyPI, so
nothing is fetched at run time; the package is installed without its dependencies (``requirements-nodeps.txt``):
we only read its weight file and never import it, which spares building ``webrtcvad``.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from pathlib import Path

import librosa
import numpy as np

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000  # what the encoder was trained on
N_MELS = 40
WINDOW = 400  # 25 ms
HOP = 160  # 10 ms
HIDDEN = 256
LAYERS = 3
TARGET_DBFS = -30.0  # the encoder's training audio was raised (never lowered) to this level
STATISTICS = ("mean", "std")
N_FEATURES = HIDDEN * len(STATISTICS)

_lock = threading.Lock()
_encoder = None


class VoiceEncoderMissing(RuntimeError):
    """The voice encoder's weights are not installed."""


def weights_path() -> Path:
    """Where the ``resemblyzer`` package keeps its pretrained weights, found without importing it."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise VoiceEncoderMissing(
            "features.voice_encoder needs the resemblyzer weights: pip install --no-deps -r requirements-nodeps.txt"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    if not path.is_file():
        raise VoiceEncoderMissing(f"resemblyzer is installed but {path} is missing")
    return path


def _load():  # -> torch.nn.LSTM
    import torch

    checkpoint = torch.load(weights_path(), map_location="cpu", weights_only=True)
    state = checkpoint["model_state"]
    lstm = torch.nn.LSTM(N_MELS, HIDDEN, LAYERS, batch_first=True)
    lstm.load_state_dict({k.removeprefix("lstm."): v for k, v in state.items() if k.startswith("lstm.")})
    lstm.eval()
    log.debug("loaded voice encoder weights from %s", weights_path())
    return lstm


def encoder():  # -> torch.nn.LSTM
    """The encoder's LSTM, loaded once per process."""
    global _encoder
    with _lock:
        if _encoder is None:
            _encoder = _load()
        return _encoder


def _level_normalised(signal: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.square(signal, dtype=np.float64))))
    if rms == 0.0:
        return signal
    gain_db = TARGET_DBFS - 20.0 * np.log10(rms)
    return signal * np.float32(10.0 ** (gain_db / 20.0)) if gain_db > 0 else signal


def features(signal: np.ndarray, sr: int) -> np.ndarray:
    """Mean and std over time of the encoder's top-layer outputs (``N_FEATURES`` values)."""
    import torch

    if sr != SAMPLE_RATE:
        raise ValueError(f"the voice encoder needs {SAMPLE_RATE} Hz audio, got {sr} Hz")
    mel = librosa.feature.melspectrogram(
        y=_level_normalised(np.asarray(signal, dtype=np.float32)),
        sr=sr,
        n_fft=WINDOW,
        hop_length=HOP,
        n_mels=N_MELS,
    )
    frames = torch.from_numpy(np.ascontiguousarray(mel.T, dtype=np.float32))[None]
    with torch.inference_mode():
        outputs, _ = encoder()(frames)
    hidden = outputs[0].double().numpy()
    return np.concatenate([hidden.mean(axis=0), hidden.std(axis=0)])


def feature_names() -> list[str]:
    """Names of the values ``features`` returns, in order."""
    return [f"voice_{stat}_{i}" for stat in STATISTICS for i in range(HIDDEN)]
