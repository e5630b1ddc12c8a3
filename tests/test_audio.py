import io

import numpy as np
import pytest
import soundfile as sf

from ser.audio import AudioError, check_usable, decode


def encode(signal: np.ndarray, sr: int, fmt: str, subtype: str | None = None) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, signal, sr, format=fmt, subtype=subtype)
    return buffer.getvalue()


def tone(sr: int, seconds: float = 0.5, channels: int = 1) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    mono = 0.5 * np.sin(2 * np.pi * 220 * t)
    return np.stack([mono] * channels, axis=1) if channels > 1 else mono


@pytest.mark.parametrize(
    ("fmt", "subtype", "sr"),
    [
        ("WAV", "PCM_16", 16000),
        ("WAV", "PCM_U8", 16000),
        ("WAV", "PCM_24", 44100),
        ("WAV", "PCM_32", 22050),
        ("WAV", "FLOAT", 48000),
        ("WAV", "ULAW", 8000),
        ("WAV", "ALAW", 8000),
        ("FLAC", "PCM_16", 44100),
        ("OGG", "VORBIS", 16000),
    ],
)
def test_formats_decode_to_16k_mono(fmt, subtype, sr):
    signal, duration = decode(encode(tone(sr), sr, fmt, subtype), 16000)
    assert signal.dtype == np.float32 and signal.ndim == 1
    assert duration == pytest.approx(0.5, abs=0.01)
    assert signal.size == pytest.approx(8000, abs=50)


def test_stereo_is_downmixed():
    stereo = tone(16000, channels=2)
    stereo[:, 1] = 0.0
    signal, _ = decode(encode(stereo, 16000, "WAV", "FLOAT"), 16000)
    assert np.max(np.abs(signal)) == pytest.approx(0.25, abs=0.01)


def test_garbage_is_an_audio_error():
    with pytest.raises(AudioError, match="cannot decode"):
        decode(b"RIFF\x00\x00garbage", 16000)


def test_empty_audio_is_an_audio_error():
    with pytest.raises(AudioError, match="no samples"):
        decode(encode(np.zeros(0), 16000, "WAV", "PCM_16"), 16000)


def test_silence_and_short_audio_are_unusable():
    with pytest.raises(AudioError, match="silent"):
        check_usable(np.zeros(16000, dtype=np.float32), 512)
    with pytest.raises(AudioError, match="too short"):
        check_usable(np.ones(10, dtype=np.float32), 512)
