"""Utterance statistics of a pretrained voice encoder's hidden states (Resemblyzer's GE2E LSTM).

The encoder (three LSTM layers) was trained for speaker verification on LibriSpeech and VoxCeleb (no emotion
labels, no EmoDB); its hidden states still carry much of how a voice is used. We take the mean and standard
deviation over time of one layer's outputs (by default the top one, the best in our LOSO CV) for the whole
utterance. The weights ship inside the ``resemblyzer`` wheel on PyPI, so nothing is fetched at run time; the
package is installed without its dependencies (``requirements-nodeps.txt``): we only read its weight file and never
import it, which spares building ``webrtcvad``.
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
_encoders: dict[int, object] = {}


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


def _load(layers: int):  # -> torch.nn.LSTM
    import torch

    checkpoint = torch.load(weights_path(), map_location="cpu", weights_only=True)
    wanted = {f"lstm.{kind}_{part}_l{i}" for kind in ("weight", "bias") for part in ("ih", "hh") for i in range(layers)}
    lstm = torch.nn.LSTM(N_MELS, HIDDEN, layers, batch_first=True)
    lstm.load_state_dict({k.removeprefix("lstm."): v for k, v in checkpoint["model_state"].items() if k in wanted})
    log.debug("loaded %d voice encoder layers from %s", layers, weights_path())
    return lstm.eval()


def encoder(layer: int = LAYERS):  # -> torch.nn.LSTM
    """The encoder's LSTM up to ``layer`` (1 to 3), whose outputs are that layer's; loaded once per process."""
    if not 1 <= layer <= LAYERS:
        raise ValueError(f"the voice encoder has layers 1 to {LAYERS}, not {layer}")
    with _lock:
        if layer not in _encoders:
            _encoders[layer] = _load(layer)
        return _encoders[layer]


def _level_normalised(signal: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.square(signal, dtype=np.float64))))
    if rms == 0.0:
        return signal
    gain_db = TARGET_DBFS - 20.0 * np.log10(rms)
    return signal * np.float32(10.0 ** (gain_db / 20.0)) if gain_db > 0 else signal


def features(signal: np.ndarray, sr: int, layer: int = LAYERS) -> np.ndarray:
    """Mean and std over time of the outputs of the encoder's ``layer`` (``N_FEATURES`` values)."""
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
        outputs, _ = encoder(layer)(frames)
    hidden = outputs[0].double().numpy()
    return np.concatenate([hidden.mean(axis=0), hidden.std(axis=0)])


def feature_names() -> list[str]:
    """Names of the values ``features`` returns, in order."""
    return [f"voice_{stat}_{i}" for stat in STATISTICS for i in range(HIDDEN)]
