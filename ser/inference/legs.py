"""A call whose two sides are in two files (recorders that write each party's leg to a file of its own), joined
into one stereo recording, the customer's leg on channel 0 and the agent's on channel 1, so that it is analysed as
any stereo call: by channel, with the crosstalk and leak rules.

The legs are read block by block (each mixed to mono first, a channel in opposite polarity flipped) and written to a
temporary float file (RF64, so that long calls at high rates do not hit WAV's 4 GB limit): memory stays bounded
however long the call. A leg at a lower sample rate is resampled to the other's (soxr, high quality); the shorter
leg is padded with silence, so that nothing at the end of the longer one is cut.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import soundfile as sf
import soxr

from ser.audio.decoding import AudioError, seekable
from ser.audio.mixing import mix_down
from ser.inference import vad

if TYPE_CHECKING:
    from ser.inference.analysis_config import AnalysisConfig

BLOCK_S = 30.0  # seconds of audio per block read and written


def _mono_blocks(audio: sf.SoundFile, rate: int) -> Iterator[np.ndarray]:
    """A leg's audio mixed to mono and resampled to ``rate``, block by block."""
    signs = vad.mix_polarity(audio)
    audio.seek(0)
    stream = None if audio.samplerate == rate else soxr.ResampleStream(audio.samplerate, rate, 1, "float32", "HQ")
    size = int(BLOCK_S * audio.samplerate)
    for block in audio.blocks(blocksize=size, dtype="float32", always_2d=True):
        mono = np.ascontiguousarray(mix_down(block, signs), dtype=np.float32)
        yield mono if stream is None else stream.resample_chunk(mono)
    if stream is not None:
        yield stream.resample_chunk(np.zeros(0, np.float32), last=True)


def _side_by_side(first: Iterator[np.ndarray], second: Iterator[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """Frames x 2 blocks of two mono streams, the shorter padded with zeros to the length of the longer."""
    streams = [first, second]
    buffers = [np.zeros(0, np.float32), np.zeros(0, np.float32)]
    done = [False, False]
    while True:
        for i in (0, 1):
            while not done[i] and len(buffers[i]) < size:
                chunk = next(streams[i], None)
                if chunk is None:
                    done[i] = True
                else:
                    buffers[i] = np.concatenate([buffers[i], chunk])
        count = min(size, max(len(buffers[0]), len(buffers[1])))
        if count == 0:
            return
        block = np.zeros((count, 2), np.float32)
        for i in (0, 1):
            taken = buffers[i][:count]
            block[: len(taken), i] = taken
            buffers[i] = buffers[i][count:]
        yield block


def _opened(leg: str | Path | bytes, role: str, max_seconds: float, stack: ExitStack) -> sf.SoundFile:
    """The leg opened for reading (decoded to a temporary file first when libsndfile cannot seek in it)."""
    try:
        audio = vad.open_sound_file(stack.enter_context(seekable(leg, max_seconds)))
    except AudioError as error:
        raise type(error)(f"the {role}'s leg: {error}") from None
    if audio.frames == 0:
        audio.close()
        raise AudioError(f"the {role}'s leg holds no audio")
    return audio


@contextmanager
def joined_legs(
    customer: str | Path | bytes, agent: str | Path | bytes, max_seconds: float = float("inf")
) -> Iterator[Path]:
    """A temporary stereo recording of the two legs (customer on channel 0, agent on channel 1), removed on exit;
    ``AudioError`` naming the leg for one that cannot be decoded or holds no audio, ``AudioTooLong`` for one longer
    than ``max_seconds``."""
    with ExitStack() as stack:
        legs = ((customer, "customer"), (agent, "agent"))
        files = [stack.enter_context(_opened(leg, role, max_seconds, stack)) for leg, role in legs]
        rate = max(audio.samplerate for audio in files)
        path = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ser-legs-"))) / "call.wav"
        with sf.SoundFile(path, "w", rate, 2, subtype="FLOAT", format="RF64") as joined:
            for block in _side_by_side(*(_mono_blocks(audio, rate) for audio in files), int(BLOCK_S * rate)):
                joined.write(block)
        yield path


def legs_config(config: AnalysisConfig) -> AnalysisConfig:
    """The settings for the joined recording: the customer's leg is channel 0, and each channel holds one role."""
    return replace(config, customer_channel=0, leg=None)


def labelled_as_legs(result: dict[str, Any]) -> dict[str, Any]:
    """The analysis of a joined recording, its separation named ``legs`` (not when both files carry one signal:
    then it was diarised as mono)."""
    if result["separation"] == "channels":
        result.update(separation="legs", customer_channel=None, customer_channel_from=None)
    return result
