"""Channel conditions: what a telephone line and a recording setup do to a recording, as seeded chains of steps.

A condition is a list of one-key steps from the ``channels.conditions`` block of params.yaml, applied in order to
a signal at its current sample rate, for example::

    [{resample: 8000}, {bandpass: {low_hz: 300, high_hz: 3400}}, {codec: {name: opus, bitrate: 12000}}]

Step values are fixed, or drawn per recording: a list means "one of these", ``{uniform: [lo, hi]}`` a number
between the two. Every draw comes from a generator seeded by (seed, condition, recording id), so a condition
gives the same audio on every run and machine, whatever the order or process it runs in.

Codecs are real encoders and decoders: libsndfile (``soundfile``) for G.711 μ-law and A-law, GSM 06.10 and
IMA/MS ADPCM; FFmpeg (PyAV) for Opus, MP3, AMR-NB and AAC at a bitrate. Noise, gain, equalisation and filters
are audiomentations transforms. Babble is mixed from recordings the caller provides (the training speakers'). A
recording can be cut (``crop``) or joined to another of its speaker in its emotion (``join``): a call's segments
are parts of sentences and runs of them, not EmoDB's single sentences.
"""

from __future__ import annotations

import io
import random
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import audiomentations as am
import av
import numpy as np
import soundfile as sf
from scipy.signal import fftconvolve

from ser.audio.decoding import decode_ffmpeg, read_blocks, resample
from ser.errors import ParamsError

Signal = np.ndarray


@dataclass(frozen=True)
class Draws:
    """What a step draws from: the recording's seeded generator, and its id (babble leaves out its speaker)."""

    rng: np.random.Generator
    recording_id: str


# (signal, sample rate, draws) -> (signal, sample rate)
StepFunction = Callable[[Signal, int, Draws], tuple[Signal, int]]
# Babble source: (generator, number of talkers, id of the recording it is mixed into) -> talkers' 16 kHz signals
BabbleSource = Callable[[np.random.Generator, int, str], list[Signal]]
# Partner source: (generator, id of a recording) -> another recording of its speaker in its emotion (16 kHz), or None
PartnerSource = Callable[[np.random.Generator, str], Signal | None]

# name -> (libsndfile container, subtype, sample rates it takes or None for any)
SNDFILE_CODECS: dict[str, tuple[str, str, tuple[int, ...] | None]] = {
    "ulaw": ("WAV", "ULAW", None),
    "alaw": ("WAV", "ALAW", None),
    "gsm": ("WAV", "GSM610", (8000,)),
    "ima_adpcm": ("WAV", "IMA_ADPCM", None),
    "ms_adpcm": ("WAV", "MS_ADPCM", None),
}
# name -> (FFmpeg encoder, container, sample rates it takes, default bit rate)
FFMPEG_CODECS: dict[str, tuple[str, str, tuple[int, ...], int]] = {
    "opus": ("libopus", "ogg", (8000, 12000, 16000, 24000, 48000), 16000),
    "mp3": ("libmp3lame", "mp3", (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000), 16000),
    "amr_nb": ("libopencore_amrnb", "amr", (8000,), 12200),
    "aac": ("aac", "adts", (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000), 24000),
}
# Opus is encoded as VoIP clients do (WebRTC's OPUS_APPLICATION_VOIP): 8 kHz audio goes through SILK at every bit
# rate. libopus's default ("audio") coded 8 kHz speech at 24 kb/s with CELT, whose x86 search uses the
# approximate-reciprocal instructions (rcpps, rsqrtps) that Intel and AMD CPUs compute differently: those copies, and
# with them the model, would differ between machines (session 15). At 16 kHz and 24 kb/s libopus still codes
# music-like frames with CELT (noisy_line draws that for about 2 % of its copies).
ENCODER_OPTIONS: dict[str, dict[str, str]] = {"opus": {"application": "voip"}}
CODECS = (*SNDFILE_CODECS, *FFMPEG_CODECS)
NOISE_DECAY = {"white": 0.0, "pink": -3.01, "brown": -6.02}
CLEAN = "clean"  # the recordings as they are: not a condition of channels.conditions
STEPS = (
    "resample", "bandpass", "codec", "noise", "gain", "level_change", "eq", "tilt", "reverb", "packet_loss", "crop",
    "join", "speed",
)  # fmt: skip


def draw(value: Any, rng: np.random.Generator) -> Any:
    """A step value for one recording: fixed, one of a list, or ``{uniform: [lo, hi]}``."""
    if isinstance(value, list):
        return value[int(rng.integers(len(value)))] if value else None
    if isinstance(value, dict) and set(value) == {"uniform"}:
        low, high = value["uniform"]
        return float(rng.uniform(low, high))
    return value


def _seed_audiomentations(rng: np.random.Generator) -> None:
    """audiomentations draws from ``random`` and numpy's global generator: seed both from ``rng``."""
    seed = int(rng.integers(2**31))
    random.seed(seed)
    np.random.seed(seed)


def _apply(
    transform: am.core.transforms_interface.BaseWaveformTransform, signal: Signal, sr: int, rng: np.random.Generator
) -> Signal:
    """Run an audiomentations transform with its random draws seeded from ``rng``."""
    _seed_audiomentations(rng)
    return np.asarray(transform(samples=signal.astype(np.float32), sample_rate=sr), dtype=np.float32)


def _resample_step(args: Any) -> StepFunction:
    def step(signal: Signal, sr: int, draws: Draws) -> tuple[Signal, int]:
        rng = draws.rng
        rate = int(draw(args, rng))
        return resample(signal, sr, rate), rate

    return step


def _bandpass_step(args: dict[str, Any]) -> StepFunction:
    def step(signal: Signal, sr: int, draws: Draws) -> tuple[Signal, int]:
        rng = draws.rng
        low, high = float(draw(args.get("low_hz", 300), rng)), float(draw(args.get("high_hz", 3400), rng))
        rolloff = int(args.get("rolloff_db", 24))
        if high < sr / 2:
            signal = _apply(am.LowPassFilter(high, high, rolloff, rolloff, p=1.0), signal, sr, rng)
        return _apply(am.HighPassFilter(low, low, rolloff, rolloff, p=1.0), signal, sr, rng), sr

    return step


def _to_codec_rate(signal: Signal, sr: int, rates: tuple[int, ...] | None) -> tuple[Signal, int]:
    """Resample to the highest rate the codec takes that is not above ``sr``, as a gateway would."""
    if rates is None or sr in rates:
        return signal, sr
    rate = max((r for r in rates if r <= sr), default=min(rates))
    return resample(signal, sr, rate), rate


def _sndfile_roundtrip(signal: Signal, sr: int, name: str) -> tuple[Signal, int]:
    container, subtype, rates = SNDFILE_CODECS[name]
    signal, sr = _to_codec_rate(signal, sr, rates)
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(signal, -1.0, 1.0), sr, format=container, subtype=subtype)
    buffer.seek(0)
    decoded, decoded_sr = read_blocks(buffer)
    return decoded.mean(axis=1), decoded_sr


def ffmpeg_encoded(signal: Signal, sr: int, name: str, bitrate: int | None) -> tuple[io.BytesIO, int]:
    """``signal`` encoded by the FFmpeg codec ``name`` (at the highest rate it takes up to ``sr``): file, its rate."""
    encoder, container, rates, default_bitrate = FFMPEG_CODECS[name]
    signal, sr = _to_codec_rate(signal, sr, rates)
    buffer = io.BytesIO()
    pcm = (np.clip(signal, -1.0, 1.0) * 32767).astype(np.int16)
    with av.open(buffer, "w", format=container) as output:
        stream = output.add_stream(encoder, rate=sr, layout="mono", options=ENCODER_OPTIONS.get(name, {}))
        stream.bit_rate = int(bitrate or default_bitrate)
        frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
        frame.sample_rate = sr
        for packet in stream.encode(frame):
            output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    buffer.seek(0)
    return buffer, sr


def _ffmpeg_roundtrip(signal: Signal, sr: int, name: str, bitrate: int | None) -> tuple[Signal, int]:
    signal, sr = _to_codec_rate(signal, sr, FFMPEG_CODECS[name][2])
    buffer, sr = ffmpeg_encoded(signal, sr, name, bitrate)
    decoded, decoded_sr = decode_ffmpeg(buffer)
    decoded = decoded.mean(axis=1)
    if decoded_sr == sr:
        decoded = decoded[: signal.size]  # encoders pad the end to whole frames (Opus decodes at 48 kHz: kept whole)
    return decoded, decoded_sr


def _codec_step(args: Any) -> StepFunction:
    spec = args if isinstance(args, dict) else {"name": args}
    names = spec["name"] if isinstance(spec["name"], list) else [spec["name"]]
    unknown = sorted(set(names) - set(CODECS))
    if unknown:
        raise ParamsError(f"unknown codec {unknown}; choose from {list(CODECS)}")

    def step(signal: Signal, sr: int, draws: Draws) -> tuple[Signal, int]:
        rng = draws.rng
        name = draw(spec["name"], rng)
        if name in SNDFILE_CODECS:
            return _sndfile_roundtrip(signal, sr, name)
        bitrate = draw(spec.get("bitrate"), rng)
        return _ffmpeg_roundtrip(signal, sr, name, None if bitrate is None else int(bitrate))

    return step


def _babble(rng: np.random.Generator, voices: list[Signal], length: int, sr: int) -> Signal:
    """Sum of recordings, each at the same RMS, looped to ``length`` from a random offset."""
    mix = np.zeros(length, dtype=np.float32)
    for voice in voices:
        voice = resample(voice, 16000, sr)
        voice = voice / max(float(np.sqrt(np.mean(voice**2))), 1e-8)
        start = int(rng.integers(voice.size))
        mix += np.resize(np.roll(voice, -start), length)
    return mix


def _noise_step(args: dict[str, Any], babble_source: BabbleSource | None) -> StepFunction:
    kinds = args.get("kind", "white")
    for kind in kinds if isinstance(kinds, list) else [kinds]:
        if kind not in (*NOISE_DECAY, "babble"):
            raise ParamsError(f"unknown noise kind {kind!r}; choose from {[*NOISE_DECAY, 'babble']}")

    def step(signal: Signal, sr: int, draws: Draws) -> tuple[Signal, int]:
        rng = draws.rng
        kind, snr_db = draw(kinds, rng), float(draw(args.get("snr_db", 20), rng))
        if kind != "babble":
            decay = NOISE_DECAY[kind]
            return _apply(am.AddColorNoise(snr_db, snr_db, decay, decay, p=1.0), signal, sr, rng), sr
        if babble_source is None:
            raise ParamsError("babble noise needs the training speakers' recordings")
        voices = babble_source(rng, int(args.get("talkers", 4)), draws.recording_id)
        noise = _babble(rng, voices, signal.size, sr)
        signal_rms = float(np.sqrt(np.mean(signal**2)))
        noise_rms = max(float(np.sqrt(np.mean(noise**2))), 1e-8)
        return signal + noise * (signal_rms / noise_rms) * 10.0 ** (-snr_db / 20.0), sr

    return step


def _gain_step(args: Any) -> StepFunction:
    def step(signal: Signal, sr: int, draws: Draws) -> tuple[Signal, int]:
        rng = draws.rng
        db = float(draw(args["db"] if isinstance(args, dict) and "db" in args else args, rng))
        return (signal * 10.0 ** (db / 20.0)).astype(np.float32), sr

    return step


def _level_change_step(args: dict[str, Any]) -> StepFunction:
    """The level moves by ``db`` within the recording, over ``ramp_s`` centred at the fraction ``at`` of it:
    a caller turning from the handset or leaning into it. Before and after, the level is steady."""

    def step(signal: Signal, sr: int, draws: Draws) -> tuple[Signal, int]:
        rng = draws.rng
        db = float(draw(args.get("db", {"uniform": [-12.0, 12.0]}), rng))
        ramp = max(1, int(float(draw(args.get("ramp_s", 0.3), rng)) * sr))
        centre = float(draw(args.get("at", {"uniform": [0.25, 0.75]}), rng)) * signal.size
        position = (np.arange(signal.size) - (centre - ramp / 2)) / ramp
        gain_db = db * np.clip(position, 0.0, 1.0)
        return (signal * 10.0 ** (gain_db / 20.0)).astype(np.float32), sr

    return step


def _eq_step(args: dict[str, Any]) -> StepFunction:
    """A microphone's or handset's colour: seven-band parametric EQ with random gains up to ``gain_db``."""
    gain = float(args.get("gain_db", 6.0))

    def step(signal: Signal, sr: int, draws: Draws) -> tuple[Signal, int]:
        rng = draws.rng
        if sr < 16000:  # the EQ's top band sits at 9.5 kHz
            return signal, sr
        return _apply(am.SevenBandParametricEQ(-gain, gain, p=1.0), signal, sr, rng), sr

    return step


def _tilt_step(args: dict[str, Any]) -> StepFunction:
    """Spectral tilt: a high shelf at ``freq_hz`` with a gain drawn from ±``db``."""

    def step(signal: Signal, sr: int, draws: Draws) -> tuple[Signal, int]:
        rng = draws.rng
        db = float(draw(args.get("db", {"uniform": [-6.0, 6.0]}), rng))
        freq = min(float(args.get("freq_hz", 1000.0)), sr / 4)
        return _apply(am.HighShelfFilter(freq, freq, db, db, 0.7, 0.7, p=1.0), signal, sr, rng), sr

    return step


def _reverb_step(args: dict[str, Any]) -> StepFunction:
    """Room reverberation: convolution with an exponentially decaying noise impulse response of time RT60."""

    def step(signal: Signal, sr: int, draws: Draws) -> tuple[Signal, int]:
        rng = draws.rng
        rt60 = float(draw(args.get("rt60_s", 0.4), rng))
        n = max(1, int(rt60 * sr))
        t = np.arange(n) / sr
        response = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60)
        response[0] = 1.0 / max(float(draw(args.get("direct_ratio", 1.0), rng)), 1e-3)
        wet = fftconvolve(signal, response)[: signal.size]
        peak_in, peak_out = float(np.max(np.abs(signal))), float(np.max(np.abs(wet))) or 1.0
        return (wet * peak_in / peak_out).astype(np.float32), sr

    return step


def _packet_loss_step(args: dict[str, Any]) -> StepFunction:
    """VoIP packet loss without concealment: each ``frame_ms`` frame is zeroed with probability ``rate``."""

    def step(signal: Signal, sr: int, draws: Draws) -> tuple[Signal, int]:
        rng = draws.rng
        rate = float(draw(args.get("rate", 0.03), rng))
        frame = max(1, int(sr * float(args.get("frame_ms", 20)) / 1000))
        lost = rng.random(int(np.ceil(signal.size / frame))) < rate
        mask = np.repeat(~lost, frame)[: signal.size]
        return (signal * mask).astype(np.float32), sr

    return step


def _taken(args: dict[str, Any], rng: np.random.Generator) -> bool:
    """Whether a step with probability ``p`` (default 1) acts on this recording (one draw either way)."""
    return bool(rng.random() < float(args.get("p", 1.0)))


def _crop_step(args: dict[str, Any]) -> StepFunction:
    """Part of an utterance: a window of ``share`` of it, starting at the fraction ``at`` of the room left (0: its
    start). A call's segment is seldom one whole sentence."""

    def step(signal: Signal, sr: int, draws: Draws) -> tuple[Signal, int]:
        rng = draws.rng
        if not _taken(args, rng):
            return signal, sr
        share = float(draw(args.get("share", {"uniform": [0.4, 0.8]}), rng))
        at = float(draw(args.get("at", {"uniform": [0.0, 1.0]}), rng))
        keep = min(signal.size, max(1, round(share * signal.size)))
        start = round(at * (signal.size - keep))
        return signal[start : start + keep], sr

    return step


def _join_step(args: dict[str, Any], partner_source: PartnerSource | None) -> StepFunction:
    """Two utterances in one: the recording and another of its speaker in its emotion (so the label holds), in either
    order (``side``: where the other goes), ``gap_s`` apart over white noise at ``gap_db`` dBFS. A call's segment
    often holds more than one sentence."""
    sides = args.get("side", "after")
    for side in sides if isinstance(sides, list) else [sides]:
        if side not in ("before", "after"):
            raise ParamsError(f"join.side is before or after, not {side!r}")

    def step(signal: Signal, sr: int, draws: Draws) -> tuple[Signal, int]:
        rng = draws.rng
        if not _taken(args, rng):
            return signal, sr
        if partner_source is None:
            raise ParamsError("the join step needs the recordings of the same speakers")
        other = partner_source(rng, draws.recording_id)
        if other is None:
            return signal, sr
        other = resample(other, 16000, sr)
        gap_s, side = float(draw(args.get("gap_s", 0.4), rng)), draw(sides, rng)
        level = 10.0 ** (float(args.get("gap_db", -60.0)) / 20.0)
        gap = (rng.standard_normal(round(gap_s * sr)) * level).astype(np.float32)
        parts = [signal, gap, other] if side == "after" else [other, gap, signal]
        return np.concatenate(parts).astype(np.float32), sr

    return step


def _numbers(name: str, value: Any) -> list[float]:
    """The numbers a step argument can take (a number, a list, or ``{uniform: [lo, hi]}``), for checks at build time."""
    if isinstance(value, dict) and set(value) == {"uniform"}:
        value = value["uniform"]
    try:
        return [float(v) for v in (value if isinstance(value, list) else [value])]
    except (TypeError, ValueError):
        raise ParamsError(f"{name} is a number, a list of numbers or {{uniform: [lo, hi]}}, not {value!r}") from None


def _speed_step(args: dict[str, Any]) -> StepFunction:
    """The utterance played ``factor`` times faster (tempo, pitch and formants together, as a resampler plays it):
    people speak at other rates than EmoDB's ten actors, with other voices (speed perturbation, as in Kaldi)."""
    factor_arg = args.get("factor", {"uniform": [0.9, 1.1]})
    if not all(0.5 <= v <= 2.0 for v in _numbers("speed.factor", factor_arg)):
        raise ParamsError(f"speed.factor lies within 0.5-2, not {factor_arg!r}")

    def step(signal: Signal, sr: int, draws: Draws) -> tuple[Signal, int]:
        rng = draws.rng
        if not _taken(args, rng):
            return signal, sr
        factor = float(draw(factor_arg, rng))
        return resample(signal, sr, round(sr / factor)), sr

    return step


def build_step(
    step: dict[str, Any], babble_source: BabbleSource | None, partner_source: PartnerSource | None = None
) -> StepFunction:
    """One step function from a one-key params dict."""
    if not isinstance(step, dict) or len(step) != 1:
        raise ParamsError(f"a channel step is a one-key mapping such as {{resample: 8000}}, got {step!r}")
    ((name, args),) = step.items()
    builders: dict[str, Callable[[], StepFunction]] = {
        "resample": lambda: _resample_step(args),
        "bandpass": lambda: _bandpass_step(args or {}),
        "codec": lambda: _codec_step(args),
        "noise": lambda: _noise_step(args or {}, babble_source),
        "gain": lambda: _gain_step(args),
        "level_change": lambda: _level_change_step(args or {}),
        "eq": lambda: _eq_step(args or {}),
        "tilt": lambda: _tilt_step(args or {}),
        "reverb": lambda: _reverb_step(args or {}),
        "packet_loss": lambda: _packet_loss_step(args or {}),
        "crop": lambda: _crop_step(args or {}),
        "join": lambda: _join_step(args or {}, partner_source),
        "speed": lambda: _speed_step(args or {}),
    }
    if name not in builders:
        raise ParamsError(f"unknown channel step {name!r}; choose from {list(STEPS)}")
    return builders[name]()


@dataclass
class Condition:
    """A named chain of channel steps with its seed; ``apply`` is deterministic per recording id."""

    name: str
    steps: Sequence[dict[str, Any]]
    seed: int
    babble_source: BabbleSource | None = None
    partner_source: PartnerSource | None = None
    _functions: list[StepFunction] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.steps, list | tuple):
            raise ParamsError(f"channel condition {self.name!r} must be a list of steps")
        self._functions = [build_step(step, self.babble_source, self.partner_source) for step in self.steps]

    def apply(self, signal: Signal, sr: int, recording_id: str) -> tuple[Signal, int]:
        """The recording as heard through this condition, at the sample rate its last step leaves."""
        rng = np.random.default_rng([self.seed, zlib.crc32(self.name.encode()), zlib.crc32(recording_id.encode())])
        signal, draws = np.asarray(signal, dtype=np.float32), Draws(rng, recording_id)
        for function in self._functions:
            signal, sr = function(signal, sr, draws)
        return np.ascontiguousarray(signal, dtype=np.float32), sr


def conditions_from_params(
    params: dict[str, Any],
    names: Sequence[str],
    babble_source: BabbleSource | None = None,
    partner_source: PartnerSource | None = None,
) -> list[Condition]:
    """The named conditions of the ``channels:`` params block."""
    defined = params.get("conditions") or {}
    bad = sorted(n for n in defined if n == CLEAN or not re.fullmatch(r"[a-z0-9_]+", str(n)))
    if bad:
        raise ParamsError(f"channel condition names must be lower-case words other than {CLEAN!r}: {bad}")
    unknown = sorted(set(names) - set(defined))
    if unknown:
        raise ParamsError(f"channel conditions {unknown} are not defined under channels.conditions")
    seed = int(params.get("seed", 0))
    return [Condition(name, defined[name], seed, babble_source, partner_source) for name in names]


def condition_lists(params: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(conditions models learn from, conditions they are scored on), both starting with clean audio."""
    train = (CLEAN, *(params.get("train") or []))
    scored = (CLEAN, *dict.fromkeys([*train[1:], *(params.get("eval") or [])]))
    conditions_from_params(params, [*train[1:], *scored[1:]])  # names defined, steps valid
    return train, scored
