"""Encoded audio for tests: well-formed files in many formats and deliberately broken ones."""

from __future__ import annotations

import io
import struct

import av
import numpy as np
import soundfile as sf

SR = 16_000


def encode(signal: np.ndarray, sr: int = SR, subtype: str = "PCM_16", fmt: str = "WAV") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, signal, sr, subtype=subtype, format=fmt)
    return buffer.getvalue()


def tone(seconds: float = 1.0, sr: int = SR, frequency: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def wav_with_lying_data_size(seconds: float = 1.0) -> bytes:
    """A WAV whose data chunk claims ten times the bytes that follow."""
    data = bytearray(encode(tone(seconds)))
    at = data.find(b"data")
    (size,) = struct.unpack("<I", data[at + 4 : at + 8])
    data[at + 4 : at + 8] = struct.pack("<I", size * 10)
    return bytes(data)


def wav_with_unknown_codec() -> bytes:
    """A WAV whose fmt chunk names a codec libsndfile cannot decode (AC-3, tag 0x2000)."""
    data = bytearray(encode(tone(0.5)))
    at = data.find(b"fmt ")
    data[at + 8 : at + 10] = struct.pack("<H", 0x2000)
    return bytes(data)


def square_wave_clipping(seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return np.clip(2.0 * np.sign(np.sin(2 * np.pi * 200 * t)), -1.0, 1.0).astype(np.float32)


def hour_of_silence_flac() -> bytes:
    """One hour at 8 kHz: under 100 KB as FLAC, far over any duration limit."""
    return encode(np.zeros(8000 * 3600, dtype=np.int16), 8000, "PCM_16", "FLAC")


def ffmpeg_encode(signal: np.ndarray, sr: int, encoder: str, container: str, bit_rate: int) -> bytes:
    """A file written by FFmpeg (PyAV), as a phone system or a smartphone app would store it."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as output:
        stream = output.add_stream(encoder, rate=sr, layout="mono")
        stream.bit_rate = bit_rate
        frame = av.AudioFrame.from_ndarray((signal[None, :] * 32767).astype(np.int16), format="s16", layout="mono")
        frame.sample_rate = sr
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            output.mux(packet)
    return buffer.getvalue()


# the headerless formats a test can write: libsndfile subtypes, or (encoder, muxer, bit rate) of FFmpeg. G.729 is not
# here: FFmpeg decodes it but has no encoder (tests/g729.py encodes it with bcg729 where that is installed).
HEADERLESS = {".ul": ("ULAW", 8000), ".al": ("ALAW", 8000), ".gsm": ("GSM610", 8000), ".sln": ("PCM_16", 8000),
              ".sln16": ("PCM_16", 16000), ".vox": ("VOX_ADPCM", 8000), ".g722": (("g722", "g722", 64000), 16000),
              ".g726-16": (("g726le", "g726le", 16000), 8000), ".g726-32": (("g726le", "g726le", 32000), 8000),
              ".g726-40": (("g726le", "g726le", 40000), 8000)}  # fmt: skip


def headerless(signal: np.ndarray, suffix: str) -> bytes:
    """``signal`` (mono, at ``HEADERLESS[suffix]``'s rate) as the headerless bytes a PBX writes to such a file."""
    subtype, sr = HEADERLESS[suffix]
    if isinstance(subtype, tuple):
        encoder, muxer, bit_rate = subtype
        return ffmpeg_encode(signal, sr, encoder, muxer, bit_rate)
    if subtype == "VOX_ADPCM":
        signal = signal[: signal.size // 2 * 2]  # VOX packs two samples a byte: libsndfile writes whole bytes only
    buffer = io.BytesIO()
    sf.write(buffer, signal, sr, format="RAW", subtype=subtype, endian="LITTLE")
    return buffer.getvalue()
