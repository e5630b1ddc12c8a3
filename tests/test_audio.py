import io
import struct
import tracemalloc

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from ser.audio.decoding import (
    RAW_FORMATS,
    AudioError,
    AudioTooLong,
    check_usable,
    decode,
    decode_channels,
    seekable,
    with_header,
)
from ser.audio.wav_header import undercounted
from ser.inference.call_files import AUDIO_SUFFIXES
from tests import g729
from tests.audio_samples import HEADERLESS, ffmpeg_encode, headerless

pytestmark = pytest.mark.unit


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
    # Block codecs pad the end of the signal to whole blocks: GSM 06.10 to 320 samples per block pair, ADPCM,
    # Opus and MP3 to their frames (at most 0.08 s here).
    [
        ("WAV", "PCM_16", 16000),
        ("WAV", "PCM_U8", 16000),
        ("WAV", "PCM_24", 44100),
        ("WAV", "PCM_32", 22050),
        ("WAV", "FLOAT", 48000),
        ("WAV", "ULAW", 8000),
        ("WAV", "ALAW", 8000),
        ("WAV", "GSM610", 8000),
        ("WAV", "IMA_ADPCM", 8000),
        ("WAV", "MS_ADPCM", 16000),
        ("FLAC", "PCM_16", 44100),
        ("OGG", "VORBIS", 16000),
        ("OGG", "OPUS", 8000),
        ("MP3", "MPEG_LAYER_III", 8000),
    ],
)
def test_formats_decode_to_16k_mono(fmt, subtype, sr):
    signal, duration = decode(encode(tone(sr), sr, fmt, subtype), 16000)
    padding = 0.01 if subtype.startswith(("PCM", "FLOAT", "ULAW", "ALAW")) or fmt == "FLAC" else 0.08
    assert signal.dtype == np.float32 and signal.ndim == 1
    assert duration == pytest.approx(0.5, abs=padding)
    assert signal.size == pytest.approx(8000, abs=16000 * padding)


@pytest.mark.parametrize(
    ("encoder", "container", "sr", "bit_rate"),
    [("aac", "ipod", 16000, 32000), ("aac", "adts", 8000, 16000), ("libopencore_amrnb", "amr", 8000, 12200)],
)
def test_formats_libsndfile_cannot_open_decode_with_ffmpeg(encoder, container, sr, bit_rate):
    data = ffmpeg_encode(tone(sr, seconds=1.0), sr, encoder, container, bit_rate)
    with pytest.raises(sf.LibsndfileError):
        sf.info(io.BytesIO(data))
    signal, duration = decode(data, 16000)
    assert duration == pytest.approx(1.0, abs=0.2)  # AAC adds priming and a last frame (128 ms at 8 kHz)
    spectrum = np.abs(np.fft.rfft(signal[2000:10000]))
    assert np.argmax(spectrum) * 16000 / 8000 == pytest.approx(220, abs=5)


def test_gsm_length_is_checked_while_decoding():
    """GSM 06.10 WAV cannot be seeked: its length is checked block by block, and too long is still refused."""
    data = encode(tone(8000, seconds=3.0), 8000, "WAV", "GSM610")
    with pytest.raises(AudioTooLong):
        decode(data, 16000, max_seconds=1.0)


def test_m4a_too_long_is_refused():
    with pytest.raises(AudioTooLong):
        decode(ffmpeg_encode(tone(16000, seconds=2.0), 16000, "aac", "ipod", 32000), 16000, max_seconds=1.0)


def test_random_bytes_are_not_decoded_as_audio():
    rng = np.random.default_rng(0)
    for _ in range(20):
        with pytest.raises(AudioError, match="cannot decode"):
            decode(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(), 16000)


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


def test_a_zero_byte_file_or_body_is_called_empty_not_undecodable(tmp_path):
    empty = tmp_path / "call.wav"
    empty.write_bytes(b"")
    for read in (lambda source: decode(source, 16000), lambda source: seekable(source).__enter__()):
        with pytest.raises(AudioError, match=r"the audio file is empty \(0 bytes\)"):
            read(empty)
        with pytest.raises(AudioError, match="audio is empty"):
            read(b"")
    with pytest.raises(AudioError, match="cannot decode"):  # a missing file is the decoder's to report
        decode(tmp_path / "missing.wav", 16000)


def test_silence_and_short_audio_are_unusable():
    with pytest.raises(AudioError, match="silent"):
        check_usable(np.zeros(16000, dtype=np.float32), 512)
    with pytest.raises(AudioError, match="too short"):
        check_usable(np.ones(10, dtype=np.float32), 512)


def test_a_dc_offset_over_silence_is_silent():
    """A line or sound card's offset with nothing on it: the front end removes the offset, so no sound is left."""
    offset = np.full(16000, 0.3, dtype=np.float32)
    with pytest.raises(AudioError, match=r"silent \(a DC offset alone\)"):
        check_usable(offset, 512)
    faint = np.random.default_rng(0).normal(0.0, 1e-5, 16000).astype(np.float32)
    with pytest.raises(AudioError, match="silent"):
        check_usable(offset + faint, 512)
    check_usable(offset + tone(16000, seconds=1.0), 512)  # sound (here a tone) over an offset is heard


def test_stereo_with_one_channel_in_opposite_polarity_is_not_silent():
    """A balanced line wired the wrong way round: the plain average of the two channels is silence."""
    stereo = tone(16000, channels=2)
    stereo[:, 1] *= -1.0
    signal, _ = decode(encode(stereo, 16000, "WAV", "FLOAT"), 16000)
    check_usable(signal, 512)
    assert np.max(np.abs(signal)) == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize(
    "make",
    [
        lambda: encode(tone(8000, seconds=3.0), 8000, "WAV", "GSM610"),  # libsndfile, front to back
        lambda: ffmpeg_encode(tone(16000, seconds=3.0), 16000, "aac", "ipod", 32000),  # FFmpeg
    ],
    ids=["gsm-wav", "m4a"],
)
def test_a_recording_that_cannot_seek_is_copied_to_a_seekable_file_sample_for_sample(make):
    data = make()
    expected, sr = decode_channels(data)
    with seekable(data) as readable:
        assert not isinstance(readable, bytes)
        copied, copied_sr = sf.read(readable, dtype="float32", always_2d=True)
    assert copied_sr == sr and np.array_equal(copied, expected)


def test_the_seekable_copy_is_decoded_block_by_block_not_held_in_memory():
    """A 10-minute GSM 06.10 call decodes to 19 MB of float32; copying it must not hold more than a few blocks."""
    rng = np.random.default_rng(0)
    data = encode(0.1 * rng.standard_normal(8000 * 600), 8000, "WAV", "GSM610")
    tracemalloc.start()
    try:
        with seekable(data) as readable:
            peak = tracemalloc.get_traced_memory()[1]
            assert sf.info(readable).frames >= 8000 * 600
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, f"{peak / 2**20:.1f} MB"


@pytest.mark.parametrize("suffix", sorted(HEADERLESS))
def test_headerless_telephone_audio_decodes_when_its_suffix_declares_it(tmp_path, suffix):
    sr = HEADERLESS[suffix][1]
    data = headerless(tone(sr, seconds=1.0), suffix)
    declared = tmp_path / f"call{suffix.upper()}"  # suffixes are matched whatever their case
    declared.write_bytes(data)
    signal, duration = decode(declared, 16000)
    assert duration == pytest.approx(1.0, abs=0.05)
    spectrum = np.abs(np.fft.rfft(signal[2000:10000]))
    assert np.argmax(spectrum) * 16000 / 8000 == pytest.approx(220, abs=5)
    with seekable(declared) as readable:  # call analysis reads it from a temporary WAV
        assert sf.info(readable).samplerate == sr
    uploaded, _ = decode(with_header(data, suffix), 16000)
    assert np.array_equal(uploaded, signal)
    undeclared = tmp_path / "call.wav"
    undeclared.write_bytes(data)
    with pytest.raises(AudioError):  # never guessed from the bytes
        decode(undeclared, 16000)


def test_headerless_g729_decodes_frame_by_frame(tmp_path):
    """Asterisk's raw G.729: 10-byte frames of 10 ms. No encoder is at hand (FFmpeg only decodes it), so random frames
    check the declaration, the framing and the length limit, not the sound."""
    frames = np.random.default_rng(3).integers(0, 256, size=(150, 10), dtype=np.uint8)
    declared = tmp_path / "call.g729"
    declared.write_bytes(frames.tobytes())
    channels, sr = decode_channels(declared)
    assert sr == 8000 and channels.shape == (150 * 80, 1) and np.all(np.isfinite(channels))
    with pytest.raises(AudioTooLong):
        decode_channels(declared, max_seconds=1.0)
    undeclared = tmp_path / "call.wav"
    undeclared.write_bytes(frames.tobytes())
    with pytest.raises(AudioError):
        decode_channels(undeclared)


@pytest.mark.skipif(g729.library() is None, reason="libbcg729 not installed (scripts/project test installs it)")
def test_headerless_g729_speech_decodes_close_to_its_source(tmp_path):
    """A voiced sound through a real G.729 encoder (bcg729), then the product's decoder: the same length and level,
    and the same spectrum (a CELP codec keeps the spectral envelope and the pitch, not the waveform)."""
    t = np.arange(16000) / 8000
    vowel = sum(np.sin(2 * np.pi * 140.0 * k * t) / k for k in range(1, 12))
    source = (0.3 * vowel * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) / np.max(np.abs(vowel))).astype(np.float32)
    declared = tmp_path / "call.g729"
    declared.write_bytes(g729.encode_g729(source))
    channels, sr = decode_channels(declared)
    assert sr == 8000 and channels.shape == (16000, 1)
    decoded = channels[:, 0]
    assert 20 * np.log10(np.std(decoded) / np.std(source)) == pytest.approx(0.0, abs=2.0)
    frequencies, source_power = scipy.signal.welch(source, 8000, nperseg=512)
    _, decoded_power = scipy.signal.welch(decoded, 8000, nperseg=512)
    band = (frequencies > 100) & (frequencies < 3400)
    assert frequencies[np.argmax(decoded_power)] == pytest.approx(140.0, abs=8.0)
    assert np.corrcoef(np.log(source_power[band]), np.log(decoded_power[band]))[0, 1] > 0.85  # noise: about 0.1


def test_a_folder_batch_looks_for_every_headerless_suffix():
    assert set(RAW_FORMATS) <= AUDIO_SUFFIXES


def test_headerless_length_is_checked():
    data = headerless(tone(8000, seconds=3.0), ".ul")
    with pytest.raises(AudioTooLong):
        with_header(data, ".ul", max_seconds=1.0)


def test_bytes_of_other_suffixes_pass_through_unchanged():
    data = encode(tone(8000), 8000, "WAV", "ULAW")
    assert with_header(data, ".wav") is data


def _with_data_size(wav: bytes, data_bytes: int) -> bytes:
    """``wav`` with its RIFF and data chunk sizes rewritten, as a recorder leaves them when it stops mid-call."""
    at = wav.index(b"data")
    patched = bytearray(wav)
    patched[4:8] = struct.pack("<I", 0 if data_bytes == 0 else min(at + data_bytes, 0xFFFFFFFF))
    patched[at + 4 : at + 8] = struct.pack("<I", data_bytes)
    return bytes(patched)


@pytest.mark.parametrize("counted_s", [0.0, 1.0])
def test_a_wav_whose_header_undercounts_its_audio_is_read_to_the_end(tmp_path, counted_s):
    """Sizes left at 0, or as last updated before the recorder stopped: every second of the call is still read."""
    full = encode(tone(8000, seconds=3.0), 8000, "WAV", "PCM_16")
    stale = _with_data_size(full, int(counted_s * 8000) * 2)
    assert undercounted(stale) and not undercounted(full)
    expected, _ = decode(full, 16000)
    signal, duration = decode(stale, 16000)
    assert duration == pytest.approx(3.0, abs=1e-3) and np.allclose(signal, expected, atol=1e-4)
    path = tmp_path / "call.wav"
    path.write_bytes(stale)
    assert undercounted(path)
    with seekable(path) as readable:  # call analysis: a temporary WAV with every sample
        assert sf.info(readable).frames == 3 * 8000


def test_chunks_after_the_audio_are_not_taken_for_audio():
    buffer = io.BytesIO()
    sf.write(buffer, tone(8000, seconds=1.0), 8000, format="WAV", subtype="PCM_16")
    with_list = buffer.getvalue() + b"LIST" + struct.pack("<I", 4) + b"INFO"
    assert not undercounted(with_list)
    assert decode(with_list, 16000)[1] == pytest.approx(1.0, abs=1e-3)
    streamed = _with_data_size(buffer.getvalue(), 0xFFFFFFFF)  # "to the end": libsndfile reads it as it is
    assert not undercounted(streamed)


def test_a_tag_or_padding_after_the_audio_is_not_taken_for_audio():
    """An ID3v1 tag (128 bytes, "TAG" + text) that a tagger appends to a WAV, or a few bytes of junk: less than
    0.1 s of audio, so not a recorder's uncounted audio; a tenth of a second or more of it is."""
    buffer = io.BytesIO()
    sf.write(buffer, tone(8000, seconds=1.0), 8000, format="WAV", subtype="PCM_16")
    clean = buffer.getvalue()
    tagged = clean + b"TAG" + b"Hello, this is a title".ljust(125, b" ")
    assert not undercounted(tagged)
    assert np.array_equal(decode(tagged, 16000)[0], decode(clean, 16000)[0])
    assert undercounted(clean + b"\x01\x02" * 800)  # 0.1 s of 16-bit samples at 8 kHz: audio
