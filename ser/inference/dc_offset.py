"""A recording's DC offset, measured where it matters and taken out before speech is looked for.

Some handsets, sound cards and recorders add a constant to every sample. The emotion features never saw it (their
front end removes each utterance's mean), but call analysis and the upload's utterance finder measure energies: an
offset lifts the noise floor of every pause, so pauses stop splitting segments, edges and the noise warnings move,
and one of 0.1 of full scale hid all the speech of a call ("no speech found").

The offset is measured on the quietest tenth of a stream's 32 ms chunks (quietest around their own means), where it
stands out: the line's noise alone, whose own mean over that many samples is near zero, while speech is lopsided
(the median sample of EmoDB's recordings sits up to 575 steps of 16 bits off zero, which says nothing about the
line). It is taken out only when its power reaches ``MIN_SHARE`` of the rest of those chunks' power (it would lift
the floor by 0.4 dB or more), so a recording without an offset is read exactly as before, and exact zeros (a
recorder's digital silence while a line is muted) stay zeros.
"""

from __future__ import annotations

import numpy as np

QUIET_PERCENTILE = 10.0  # the chunks at or under this percentile of power around their means: the line alone
MIN_SHARE = 0.1  # the offset's power against the quiet chunks' power around their mean, at least
DIGITAL_SILENCE = 1e-10  # as ``vad.DIGITAL_SILENCE``: constant chunks (exact zeros, or A-law's idle code, which
# decodes to +8 steps of 16 bits) are a recorder's or a codec's silence and say nothing about an offset
CHUNK_S = 0.032  # the speech detector's chunk (``vad.CHUNK_S``)


def dc_offset(samples: np.ndarray, chunk: int) -> float:
    """The DC offset of one stream (mono samples) from its chunks of ``chunk`` samples, or 0.0 where there is none
    worth taking out (see the module docstring)."""
    count = len(samples) // chunk
    if count == 0:
        return 0.0
    frames = np.asarray(samples[: count * chunk], dtype=np.float64).reshape(count, chunk)
    means = frames.mean(axis=1)
    # the power around each chunk's own mean: chosen by the power with it, a chunk of speech swinging against the
    # offset would pass for quiet and pull the estimate towards zero
    around = np.maximum(np.mean(np.square(frames), axis=1) - np.square(means), 0.0)
    sounding = np.flatnonzero(around > DIGITAL_SILENCE)  # constant chunks are a codec's or a recorder's silence
    if not sounding.size:
        return 0.0
    quiet = sounding[around[sounding] <= np.percentile(around[sounding], QUIET_PERCENTILE)]
    offset = float(means[quiet].mean())
    return offset if offset * offset >= MIN_SHARE * float(around[quiet].mean()) and offset != 0.0 else 0.0


def channel_offsets(data: np.ndarray, chunk: int) -> np.ndarray:
    """``dc_offset`` of each channel of ``data`` (frames x channels), float32."""
    return np.array([dc_offset(data[:, c], chunk) for c in range(data.shape[1])], dtype=np.float32)


def without_offsets(data: np.ndarray, offsets: np.ndarray | None) -> np.ndarray:
    """``data`` (frames x channels, or mono with one offset) less each channel's offset; exact zeros stay zeros. The
    same array when there is nothing to take out."""
    if offsets is None or not np.any(offsets):
        return data
    shifted = data - np.asarray(offsets, dtype=data.dtype)
    return np.where(data == 0, data, shifted)


def without_dc(signal: np.ndarray, sr: int) -> np.ndarray:
    """A mono signal sampled at ``sr`` less its own ``dc_offset`` (over 32 ms chunks)."""
    chunk = max(1, round(CHUNK_S * sr))
    return without_offsets(signal, np.array([dc_offset(signal, chunk)], dtype=np.float32))
