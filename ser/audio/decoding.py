"""Audio decoding and resampling: the single I/O step before ``features.extract``.

libsndfile (``soundfile``) decodes WAV (PCM, float, μ-law, A-law, GSM 06.10, IMA/MS ADPCM), FLAC, OGG Vorbis and
Opus, and MP3, always in blocks, so formats it cannot seek (GSM 06.10) decode too. What it cannot open (M4A/AAC,
AMR, WebM, ...) is decoded by FFmpeg through PyAV. Headerless telephone audio (raw μ-law, A-law, GSM 06.10, 16-bit
PCM, VOX ADPCM, G.722, G.726, G.729) is read when a file's suffix declares it (``RAW_FORMATS``); a WAV whose header
counts less audio than follows it (``wav_header.undercounted``) is read to its end.
"""

from __future__ import annotations

import io
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import librosa
import numpy as np
import soundfile as sf

from ser.audio.mixing import mix_down
from ser.audio.wav_header import undercounted
from ser.errors import SerError

log = logging.getLogger(__name__)

UNDECODABLE = "cannot decode audio: unsupported format or damaged file"
BLOCK_FRAMES = 1 << 16
# FFmpeg demuxers we accept after libsndfile declined: audio containers, and ADTS AAC (recorders write it; FFmpeg's
# probe wants several consistent frames). Not raw MP3 or GSM streams, which FFmpeg may guess from a few bytes of
# noise (libsndfile reads MP3 and GSM 06.10 WAV itself); tests feed random bytes.
FFMPEG_FORMATS = {"mov", "mp4", "m4a", "3gp", "3g2", "mj2", "aac", "amr", "amrnb", "amrwb", "ogg", "matroska", "webm",
                  "caf", "aiff", "wav", "flac", "asf", "wma"}  # fmt: skip

Source = str | Path | bytes | bytearray | BinaryIO


@dataclass(frozen=True)
class RawFormat:
    """Headerless audio: a libsndfile RAW ``subtype`` (little-endian) or an FFmpeg ``demuxer`` (with its
    ``options``), mono at ``rate``."""

    rate: int
    subtype: str | None = None
    demuxer: str | None = None
    options: tuple[tuple[str, str], ...] = ()


def _g726(bits_per_sample: int) -> RawFormat:
    """Asterisk's raw G.726 at 8 x ``bits_per_sample`` kb/s: RFC 3551's codeword packing, FFmpeg's ``g726le``."""
    return RawFormat(8000, demuxer="g726le", options=(("code_size", str(bits_per_sample)), ("sample_rate", "8000")))


# Headerless telephone audio as PBXs and recorders write it: Asterisk's ulaw, alaw, gsm, sln, sln16, g722, g726-NN
# (NN kb/s) and g729 formats, and Dialogic VOX ADPCM (read at 8 kHz). Nothing in such bytes says what they are, so
# only a file's suffix declares one, and none is ever guessed from the bytes.
RAW_FORMATS = {
    **dict.fromkeys((".ul", ".ulaw", ".ulw", ".mulaw", ".mu"), RawFormat(8000, subtype="ULAW")),
    **dict.fromkeys((".al", ".alaw", ".alw"), RawFormat(8000, subtype="ALAW")),
    ".gsm": RawFormat(8000, subtype="GSM610"),
    ".sln": RawFormat(8000, subtype="PCM_16"),
    ".sln16": RawFormat(16000, subtype="PCM_16"),
    ".vox": RawFormat(8000, subtype="VOX_ADPCM"),
    ".g722": RawFormat(16000, demuxer="g722"),
    **{f".g726-{8 * bits}": _g726(bits) for bits in (2, 3, 4, 5)},
    ".g729": RawFormat(8000, demuxer="g729"),
}


def raw_format(source: Source) -> RawFormat | None:
    """The headerless format a file's suffix declares (``RAW_FORMATS``), None for any other source."""
    return RAW_FORMATS.get(Path(source).suffix.lower()) if isinstance(source, str | Path) else None


def _sound_file(source: Source) -> sf.SoundFile:
    """``source`` opened by libsndfile, as the headerless format its suffix declares if it declares one."""
    declared = raw_format(source)
    if declared is None:
        if undercounted(source):
            where = f"{source}: " if isinstance(source, str | Path) else ""
            log.warning("%sthe WAV header counts less audio than the file holds (a recorder stopped before"
                        " finishing it?): reading to the end of the file", where)  # fmt: skip
            raise RuntimeError("WAV header undercounts its audio")  # on to FFmpeg, told to read to the end
        return sf.SoundFile(_handle(source))
    if declared.subtype is None:
        raise RuntimeError(f"headerless {declared.demuxer} is read by FFmpeg")  # caught as libsndfile's own errors
    return sf.SoundFile(_handle(source), samplerate=declared.rate, channels=1, format="RAW",
                        subtype=declared.subtype, endian="LITTLE")  # fmt: skip


def _open_ffmpeg(source: Source, formats: set[str] | None) -> tuple[Any, set[str] | None]:
    """``source`` opened by FFmpeg (the demuxer its suffix declares, if any) and the demuxers to accept from it."""
    import av

    declared = raw_format(source)
    if declared is not None and declared.demuxer is not None:
        return av.open(_handle(source), "r", format=declared.demuxer, options=dict(declared.options)), None
    if undercounted(source):
        return av.open(_handle(source), "r", format="wav", options={"ignore_length": "1"}), None
    return av.open(_handle(source), "r"), formats


class AudioError(SerError, ValueError):
    """Audio that cannot be used: undecodable, empty, silent or not finite."""


class AudioTooLong(AudioError):
    """Audio longer than the caller allows."""


def _too_long(frames: int, sr: int, max_seconds: float) -> None:
    if frames / sr > max_seconds:
        raise AudioTooLong(f"audio lasts {frames / sr:.1f} s, more than the {max_seconds:g} s allowed")


def _handle(source: Source) -> str | BinaryIO:
    if isinstance(source, bytes | bytearray):
        return io.BytesIO(source)
    return str(source) if isinstance(source, Path) else source


def _sndfile_blocks(audio_file: sf.SoundFile, max_seconds: float) -> Iterator[np.ndarray]:
    """Blocks (frames x channels float32) of an open libsndfile file, its length checked as they arrive."""
    if audio_file.seekable():
        _too_long(audio_file.frames, audio_file.samplerate, max_seconds)
    frames = 0
    while True:
        block = audio_file.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
        if not len(block):
            return
        frames += len(block)
        _too_long(frames, audio_file.samplerate, max_seconds)
        yield block


def read_blocks(source: Source, max_seconds: float = float("inf")) -> tuple[np.ndarray, int]:
    """Decode with libsndfile, block by block: (frames x channels float32, sample rate).

    The header's length is checked against ``max_seconds`` before any sample is decoded; files whose length
    is unknown are checked as their blocks arrive.
    """
    with _sound_file(source) as audio_file:
        sr = audio_file.samplerate
        blocks = list(_sndfile_blocks(audio_file, max_seconds))
    data = np.concatenate(blocks) if blocks else np.zeros((0, audio_file.channels), dtype=np.float32)
    return data, sr


def _audio_stream(container: Any, formats: set[str] | None, max_seconds: float) -> Any:
    """The first audio stream of an open PyAV container whose demuxer is one of ``formats`` (None: any)."""
    import av

    if formats is not None and not formats & set(container.format.name.split(",")):
        raise AudioError(UNDECODABLE)
    stream = next(iter(container.streams.audio), None)
    if stream is None:
        raise AudioError("the file has no audio stream")
    sr = stream.codec_context.sample_rate
    if container.duration:
        _too_long(int(container.duration / av.time_base * sr), sr, max_seconds)
    return stream


def _ffmpeg_blocks(container: Any, stream: Any, max_seconds: float) -> Iterator[np.ndarray]:
    """Blocks (frames x channels float32) of an audio stream as FFmpeg decodes it, its length checked as they arrive."""
    import av

    sr = stream.codec_context.sample_rate
    converter = av.AudioResampler(format="fltp")
    frames = 0
    for frame in container.decode(stream):
        for converted in converter.resample(frame):
            block = converted.to_ndarray().T
            frames += len(block)
            _too_long(frames, sr, max_seconds)
            yield block


def decode_ffmpeg(
    source: Source, max_seconds: float = float("inf"), formats: set[str] | None = None
) -> tuple[np.ndarray, int]:
    """Decode the first audio stream with FFmpeg (PyAV): (frames x channels float32, sample rate).

    ``formats`` restricts the demuxers accepted (for input of unknown origin); None accepts any.
    """
    container, formats = _open_ffmpeg(source, formats)  # FFmpeg's libraries (17 MB) load only when libsndfile fails
    with container:
        stream = _audio_stream(container, formats, max_seconds)
        sr = stream.codec_context.sample_rate
        blocks = list(_ffmpeg_blocks(container, stream, max_seconds))
    if not blocks:
        raise AudioError("audio contains no samples")
    return np.ascontiguousarray(np.concatenate(blocks), dtype=np.float32), sr


def decode_channels(source: Source, max_seconds: float = float("inf")) -> tuple[np.ndarray, int]:
    """Decode any supported format: (frames x channels float32, sample rate)."""
    _refuse_empty(source)
    try:
        return read_blocks(source, max_seconds)
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        # libsndfile's own wording depends on the bytes (random data may read as "not a regular file").
        log.info("libsndfile could not decode audio: %s", re.sub(r"^Error opening .*?: ", "", str(error)))
    if hasattr(source, "seek"):
        source.seek(0)
    import av

    try:
        return decode_ffmpeg(source, max_seconds, FFMPEG_FORMATS)
    except (av.FFmpegError, OSError, ValueError, IndexError) as error:
        if isinstance(error, AudioError):
            raise
        log.info("FFmpeg could not decode audio: %s", error)
        raise AudioError(UNDECODABLE) from None


def _refuse_empty(source: Source) -> None:
    """``AudioError`` for a path that names a 0-byte file or bytes that hold none (a stream is not read to tell),
    which would otherwise be called undecodable."""
    if isinstance(source, bytes | bytearray) and not source:
        raise AudioError("audio is empty")
    if isinstance(source, str | Path):
        try:
            empty = os.stat(source).st_size == 0 and Path(source).is_file()
        except OSError:
            return  # the decoder says what is wrong with it
        if empty:
            raise AudioError("the audio file is empty (0 bytes)")


class _TemporaryFileError(Exception):
    """Writing the decoded temporary WAV failed (the disk, not the recording): its cause is re-raised."""


def _write_blocks(path: Path, sr: int, blocks: Iterator[np.ndarray], channels: int | None = None) -> int:
    """Write ``blocks`` to a float WAV at ``path`` as they come (the file opens at the first block unless
    ``channels`` is known); the number of blocks written."""
    out: sf.SoundFile | None = None
    count = 0
    try:
        for block in blocks:
            try:
                if out is None:
                    out = sf.SoundFile(path, "w", sr, channels or block.shape[1], subtype="FLOAT", format="WAV")
                out.write(block)
            except (OSError, RuntimeError) as error:
                raise _TemporaryFileError() from error
            count += 1
        if out is None and channels is not None:
            out = sf.SoundFile(path, "w", sr, channels, subtype="FLOAT", format="WAV")
    finally:
        if out is not None:
            out.close()
    return count


def _decode_to_wav(source: str | Path | bytes, path: Path, max_seconds: float) -> None:
    """Decode any supported format into a float WAV at ``path``, block by block, so that memory does not grow with
    the recording's length (libsndfile first, then FFmpeg, as ``decode_channels``)."""
    try:
        with _sound_file(source) as audio_file:
            _write_blocks(path, audio_file.samplerate, _sndfile_blocks(audio_file, max_seconds), audio_file.channels)
        return
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        log.info("libsndfile could not decode audio: %s", re.sub(r"^Error opening .*?: ", "", str(error)))
    import av

    try:
        container, formats = _open_ffmpeg(source, FFMPEG_FORMATS)
        with container:
            stream = _audio_stream(container, formats, max_seconds)
            blocks = _ffmpeg_blocks(container, stream, max_seconds)
            written = _write_blocks(path, stream.codec_context.sample_rate, blocks)
    except (av.FFmpegError, OSError, ValueError, IndexError) as error:
        if isinstance(error, AudioError):
            raise
        log.info("FFmpeg could not decode audio: %s", error)
        raise AudioError(UNDECODABLE) from None
    if not written:
        raise AudioError("audio contains no samples")


def with_header(data: bytes, suffix: str, max_seconds: float = float("inf")) -> bytes:
    """Uploaded bytes a file suffix declares headerless (``RAW_FORMATS``) as a float WAV; other bytes as they are."""
    if suffix.lower() not in RAW_FORMATS:
        return data
    with tempfile.TemporaryDirectory(prefix="ser-audio-") as directory:
        path = Path(directory) / f"upload{suffix.lower()}"
        path.write_bytes(data)
        decoded, sr = decode_channels(path, max_seconds)
    buffer = io.BytesIO()
    sf.write(buffer, decoded, sr, format="WAV", subtype="FLOAT")
    return buffer.getvalue()


@contextmanager
def seekable(source: str | Path | bytes, max_seconds: float = float("inf")) -> Iterator[str | Path | bytes]:
    """``source`` itself when libsndfile can seek in it, else a temporary float WAV of its decoded audio.

    Call analysis reads a recording in several passes: GSM 06.10 WAV, M4A/AAC, AMR and the other formats that
    only decode front to back are decoded once into a file it can seek in, block by block (a 2-hour M4A call
    would otherwise be held in memory whole: 1.4 GB for one hour of 16 kHz stereo).
    """
    _refuse_empty(source)
    try:
        if raw_format(source) is not None or undercounted(source):  # later readers trust content and header
            raise RuntimeError("headerless audio, or a header that undercounts it")
        with sf.SoundFile(_handle(source)) as audio_file:
            can_seek = audio_file.seekable()
            if can_seek:
                _too_long(audio_file.frames, audio_file.samplerate, max_seconds)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        can_seek = False
    if can_seek:
        yield source
        return
    with tempfile.TemporaryDirectory(prefix="ser-audio-") as directory:
        path = Path(directory) / "decoded.wav"
        try:
            _decode_to_wav(source, path, max_seconds)
        except _TemporaryFileError as error:
            raise error.__cause__ from None
        yield path


def resample(signal: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    """``signal`` at ``target_sr`` (soxr, high quality), float32."""
    if sr != target_sr:
        signal = librosa.resample(np.asarray(signal, dtype=np.float32), orig_sr=sr, target_sr=target_sr,
                                  res_type="soxr_hq")  # fmt: skip
    return np.ascontiguousarray(signal, dtype=np.float32)


def decode(
    source: Source, target_sr: int, max_seconds: float = float("inf"), channel: int | None = None
) -> tuple[np.ndarray, float]:
    """Decode a file path or encoded bytes to mono float32 at ``target_sr``; return (signal, duration_s).

    Stereo is downmixed by averaging channels (a channel in opposite polarity flipped first: ``audio.mixing``), or
    ``channel`` (0 = left) alone is taken; any sample rate is resampled with soxr.
    """
    data, sr = decode_channels(source, max_seconds)
    if data.shape[0] == 0:
        raise AudioError("audio contains no samples")
    if channel is not None and not 0 <= channel < data.shape[1]:
        raise AudioError(f"channel {channel} does not exist: the audio has {data.shape[1]} (0 = left)")
    signal = mix_down(data) if channel is None else data[:, channel]
    if not np.all(np.isfinite(signal)):
        raise AudioError("audio contains NaN or infinite samples")
    return resample(signal, sr, target_sr), signal.size / sr


def check_usable(signal: np.ndarray, min_samples: int, silence_peak: float = 1e-4) -> None:
    """Raise AudioError when a decoded signal is too short or silent for features.

    The peak is measured around the signal's mean: a DC offset (a sound card's, a handset's) over silence is silence,
    as the features' front end, which removes it, would hear it.
    """
    if signal.size < min_samples:
        raise AudioError(f"audio too short: {signal.size} samples after resampling, need at least {min_samples}")
    offset = float(np.mean(signal, dtype=np.float64))
    if max(float(np.max(signal)) - offset, offset - float(np.min(signal))) < silence_peak:  # no copy of the signal
        raise AudioError("audio is silent" + (" (a DC offset alone)" if abs(offset) >= silence_peak else ""))
