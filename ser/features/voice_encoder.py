"""Utterance statistics of a pretrained voice encoder's hidden states (Resemblyzer's GE2E LSTM).

The encoder (three LSTM layers) was trained for speaker verification on LibriSpeech and VoxCeleb (no emotion
labels, no EmoDB); its hidden states still carry much of how a voice is used. We take the mean and standard
deviation over time of one layer's outputs (by default the top one, the best in our LOSO CV) for the whole
utterance, optionally over its loud frames only (``floor_db``). The weights ship inside the ``resemblyzer`` wheel
on PyPI, so nothing is fetched at run time; the package is installed without its dependencies
(``requirements-nodeps.txt``): we only read its weight file and never import it, which spares building ``webrtcvad``.
"""

from __future__ import annotations

import logging
import pickle
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import librosa
import numba
import numpy as np

from ser.features import compiled
from ser.features.fast_math import REPRODUCIBLE_FAST_MATH, float32_coefficients, odd_rational
from ser.features.pretrained import package_file, verified

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000  # what the encoder was trained on
N_MELS = 40
WINDOW = 400  # 25 ms
# The encoder's own 10 ms frames. 20 ms frames would halve its cost at a LOSO CV UAR of 0.831 (0.833 with 10 ms in
# the same run) but lost about 2 points on the five test pairs (pooled UAR 0.808 vs 0.826).
HOP = 160  # 10 ms
HIDDEN = 256
LAYERS = 3
TARGET_DBFS = -30.0  # the encoder's training audio was raised (never lowered) to this level
STATISTICS = ("mean", "std")
N_FEATURES = HIDDEN * len(STATISTICS)
# resemblyzer 0.1.4's pretrained.pt: the file the figures in BENCHMARKS.md were measured with.
WEIGHTS_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"

# Speaker embeddings (diarisation of mono calls): the top layer's output every EMBEDDING_STEP frames once
# EMBEDDING_WINDOW frames have been seen (Resemblyzer's 1.6 s partial utterances), through the trained projection.
EMBEDDING_WINDOW = 160
EMBEDDING_STEP = 80

_lock = threading.Lock()
_weights: list[LayerWeights] | None = None
_projection: tuple[np.ndarray, np.ndarray] | None = None


@dataclass(frozen=True)
class LayerWeights:
    """One LSTM layer; gates in torch's order (input, forget, cell, output), each as tanh's argument.

    The sigmoid gates' rows are halved at load time (exact in floating point) so that the kernel computes every gate
    with one tanh: sigmoid(x) = (1 + tanh(x / 2)) / 2.
    """

    input_t: np.ndarray  # (n_in, 4 * HIDDEN): for one matrix product over all frames
    recurrent: np.ndarray  # (4 * HIDDEN, HIDDEN): torch's weight_hh layout, one contiguous row per gate unit
    bias: np.ndarray  # (4 * HIDDEN,), both of torch's biases summed


def weights_path() -> Path:
    """Where the ``resemblyzer`` package keeps its pretrained weights, found without importing it."""
    return package_file(
        "resemblyzer",
        "pretrained.pt",
        "features.voice_encoder needs the resemblyzer weights",
        "pip install --no-deps -r requirements-nodeps.txt",
    )


class _TensorRef:
    def __init__(self, key: str, offset: int, shape: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.key, self.offset, self.shape, self.stride = key, offset, tuple(shape), tuple(stride)


class _LegacyTorchUnpickler(pickle.Unpickler):
    """Reads the legacy (pre-zip) torch checkpoint format without torch: only float tensors and dicts."""

    def persistent_load(self, pid: Any) -> str:
        kind, storage_type, key = pid[0], pid[1], pid[2]
        if kind != "storage" or storage_type != "FloatStorage":
            raise pickle.UnpicklingError(f"unexpected storage {kind}/{storage_type}")
        return str(key)

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return lambda key, offset, shape, stride, *_: _TensorRef(key, offset, shape, stride)
        if (module, name) == ("torch", "FloatStorage"):
            return name
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        raise pickle.UnpicklingError(f"unexpected class {module}.{name} in the voice encoder weights")


def _read_state(path: Path) -> dict[str, np.ndarray]:
    """The ``model_state`` tensors of a legacy torch checkpoint, as float32 arrays."""
    with path.open("rb") as handle:
        for _ in range(3):  # magic number, protocol version, system info
            pickle.load(handle)  # safe: the file matched WEIGHTS_SHA256 before
        checkpoint = _LegacyTorchUnpickler(handle).load()
        storages = {}
        for key in pickle.load(handle):
            (count,) = struct.unpack("<q", handle.read(8))
            storages[key] = np.frombuffer(handle.read(4 * count), dtype="<f4")
    state = {}
    for name, ref in checkpoint["model_state"].items():
        data = storages[ref.key]
        view = np.lib.stride_tricks.as_strided(
            data[ref.offset :], shape=ref.shape, strides=[4 * s for s in ref.stride], writeable=False
        )
        state[name] = np.array(view, dtype=np.float32)
    return state


def _load() -> list[LayerWeights]:
    path = verified(weights_path(), WEIGHTS_SHA256, "resemblyzer 0.1.4's pretrained.pt")
    state = _read_state(path)
    scale = np.full(4 * HIDDEN, 0.5, dtype=np.float32)
    scale[2 * HIDDEN : 3 * HIDDEN] = 1.0  # the cell-input gate is a tanh already
    layers = []
    for i in range(LAYERS):
        layers.append(
            LayerWeights(
                input_t=np.ascontiguousarray(state[f"lstm.weight_ih_l{i}"].T * scale),
                recurrent=np.ascontiguousarray(state[f"lstm.weight_hh_l{i}"] * scale[:, None]),
                bias=(state[f"lstm.bias_ih_l{i}"] + state[f"lstm.bias_hh_l{i}"]) * scale,
            )
        )
    log.debug("loaded the voice encoder from %s", path)
    return layers


def encoder() -> list[LayerWeights]:
    """The encoder's LSTM layers, loaded once per process."""
    global _weights
    with _lock:
        if _weights is None:
            _weights = _load()
        return _weights


def projection() -> tuple[np.ndarray, np.ndarray]:
    """The encoder's output layer (weight transposed, bias): hidden state -> speaker embedding, loaded once."""
    global _projection
    with _lock:
        if _projection is None:
            state = _read_state(verified(weights_path(), WEIGHTS_SHA256, "resemblyzer 0.1.4's pretrained.pt"))
            _projection = (np.ascontiguousarray(state["linear.weight"].T), state["linear.bias"])
        return _projection


# Eigen's rational approximation of tanh for float32 (generic_fast_tanh_float): within 4e-7 of tanh everywhere
# (tested), and, unlike libm's tanhf and expf, it vectorises.
_TANH_CLAMP = np.float32(7.90531110763549805)
_TANH_NUMERATOR = float32_coefficients(
    -2.76076847742355e-16,
    2.00018790482477e-13,
    -8.60467152213735e-11,
    5.12229709037114e-08,
    1.48572235717979e-05,
    6.37261928875436e-04,
    4.89352455891786e-03,
)
_TANH_DENOMINATOR = float32_coefficients(
    1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03
)


@numba.njit(fastmath=REPRODUCIBLE_FAST_MATH, inline="always", cache=True)
def _tanh(x: float) -> float:  # pragma: no cover (compiled)
    return odd_rational(x, _TANH_CLAMP, _TANH_NUMERATOR, _TANH_DENOMINATOR)


@numba.njit(fastmath=REPRODUCIBLE_FAST_MATH, nogil=True, cache=True)
def _lstm_steps(projected: np.ndarray, recurrent: np.ndarray) -> np.ndarray:  # pragma: no cover (compiled)
    """Outputs (n_frames, n_gates // 4) of the recurrence over input products ``projected`` (n_frames, n_gates)."""
    n_frames, n_gates = projected.shape
    h = n_gates // 4
    half = np.float32(0.5)
    hidden = np.zeros(h, dtype=np.float32)
    cell = np.zeros(h, dtype=np.float32)
    gates = np.empty(n_gates, dtype=np.float32)
    outputs = np.empty((n_frames, h), dtype=np.float32)
    for t in range(n_frames):
        for j in range(n_gates):
            total = projected[t, j]
            for i in range(h):
                total += recurrent[j, i] * hidden[i]
            gates[j] = _tanh(total)
        for j in range(h):
            input_gate = half + half * gates[j]
            forget_gate = half + half * gates[h + j]
            output_gate = half + half * gates[3 * h + j]
            cell[j] = forget_gate * cell[j] + input_gate * gates[2 * h + j]
            hidden[j] = output_gate * _tanh(cell[j])
            outputs[t, j] = hidden[j]
    return outputs


def _lstm_layer(inputs: np.ndarray, weights: LayerWeights) -> np.ndarray:
    """Outputs (n_frames, HIDDEN) of one LSTM layer over ``inputs`` (n_frames, n_in), from zero state.

    The input products of all frames are one matrix product; the recurrence is a compiled loop (numba, which librosa
    already loads) whose per-frame (1024 x 256) product streams the layer's 1 MB of weights from cache.
    """
    projected = np.ascontiguousarray(inputs @ weights.input_t + weights.bias, dtype=np.float32)
    return _lstm_steps(projected, weights.recurrent)


def _top_layer(signal: np.ndarray, sr: int, layer: int = LAYERS) -> tuple[np.ndarray, np.ndarray]:
    """The encoder's mel spectrogram (n_mels, frames) and ``layer``'s outputs (frames, HIDDEN) for ``signal``."""
    compiled.once("voice_encoder", lambda: _run_layers(np.full(SAMPLE_RATE // 2, 0.01, np.float32), SAMPLE_RATE, 1))
    return _run_layers(signal, sr, layer)


def _run_layers(signal: np.ndarray, sr: int, layer: int) -> tuple[np.ndarray, np.ndarray]:
    if sr != SAMPLE_RATE:
        raise ValueError(f"the voice encoder needs {SAMPLE_RATE} Hz audio, got {sr} Hz")
    mel = librosa.feature.melspectrogram(
        y=_level_normalised(np.asarray(signal, dtype=np.float32)),
        sr=sr,
        n_fft=WINDOW,
        hop_length=HOP,
        n_mels=N_MELS,
    )
    activations = np.ascontiguousarray(mel.T, dtype=np.float32)
    for weights in encoder()[:layer]:
        activations = _lstm_layer(activations, weights)
    return mel, activations


def embedding(signal: np.ndarray, sr: int) -> np.ndarray:
    """Unit-length 256-value speaker embedding of ``signal`` (16 kHz): the mean of the projected, rectified and
    normalised top-layer outputs every ``EMBEDDING_STEP`` frames from the ``EMBEDDING_WINDOW``-th on (and at the
    last frame), as Resemblyzer averages its partial utterances."""
    _, hidden = _top_layer(signal, sr)
    last = len(hidden) - 1
    picks = sorted({*range(min(EMBEDDING_WINDOW - 1, last), last + 1, EMBEDDING_STEP), last})
    weight, bias = projection()
    partials = np.maximum(hidden[picks] @ weight + bias, 0.0)
    partials /= np.linalg.norm(partials, axis=1, keepdims=True) + 1e-9
    mean = partials.mean(axis=0)
    return (mean / (np.linalg.norm(mean) + 1e-9)).astype(np.float32)


def _level_normalised(signal: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.square(signal, dtype=np.float64))))
    if rms == 0.0:
        return signal
    gain_db = TARGET_DBFS - 20.0 * np.log10(rms)
    return signal * np.float32(10.0 ** (gain_db / 20.0)) if gain_db > 0 else signal


def loud_frames(mel: np.ndarray, floor_db: float) -> np.ndarray:
    """Mask of the frames of ``mel`` (n_mels, n_frames) whose energy is within ``floor_db`` of the loudest frame."""
    energy_db = 10.0 * np.log10(mel.sum(axis=0, dtype=np.float64) + 1e-10)
    return energy_db > energy_db.max() - floor_db


def features(signal: np.ndarray, sr: int, layer: int = LAYERS, floor_db: float | None = None) -> np.ndarray:
    """Mean and std over time of the outputs of the encoder's ``layer`` (1 to 3; ``N_FEATURES`` values).

    The LSTM runs over every frame; with ``floor_db`` the statistics pool only the frames whose energy is within
    ``floor_db`` of the utterance's loudest (pauses and fading ends still shape the state, but are not averaged).
    """
    if not 1 <= layer <= LAYERS:
        raise ValueError(f"the voice encoder has layers 1 to {LAYERS}, not {layer}")
    if floor_db is not None and not floor_db > 0:
        raise ValueError(f"the voice encoder's floor_db must be above 0 dB, not {floor_db}")
    mel, activations = _top_layer(signal, sr, layer)
    hidden = activations.astype(np.float64)
    if floor_db is not None:
        hidden = hidden[loud_frames(mel, floor_db)]
    return np.concatenate([hidden.mean(axis=0), hidden.std(axis=0)])


def feature_names() -> list[str]:
    """Names of the values ``features`` returns, in order."""
    return [f"voice_{stat}_{i}" for stat in STATISTICS for i in range(HIDDEN)]
