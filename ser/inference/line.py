"""What a recording's line adds to every sample, found once per channel and taken out wherever the call is read.

Two faults: a DC offset (``ser.inference.dc_offset``) and mains hum (``ser.inference.hum``). Both are measured on
windows spread over the recording, so the cost does not grow with its length, and both are taken out only where
they are worth it, so a recording without them is read bit for bit as before. Hum is notched by a causal filter
whose state runs on from block to block; a window read on its own starts ``PREROLL_S`` earlier, so the filter has
settled by its first sample. One pass, not forwards and backwards: the notches shift the phase of what lies within
a few hertz of a harmonic only (03 + 08's segment emotions with hum notched stay within 4 points of the calls
without hum; BENCHMARKS.md "Mains hum").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ser.inference.dc_offset import CHUNK_S, channel_offsets, without_dc, without_offsets
from ser.inference.hum import Hum, mains_hum

PREROLL_S = 1.0  # the slowest notch (Q 30 at 50 Hz) rings down by 45 dB within it
MONO_WINDOW_S = 1.0  # an in-memory signal is looked at in windows this long


@dataclass(frozen=True)
class LineFaults:
    """Each channel's DC offset (0: none worth taking out) and mains hum (None: none)."""

    offsets: np.ndarray
    hums: tuple[Hum | None, ...]

    @classmethod
    def none(cls, channels: int) -> LineFaults:
        return cls(np.zeros(channels, dtype=np.float32), (None,) * channels)

    @property
    def hummed(self) -> bool:
        return any(hum is not None for hum in self.hums)

    def cleaner(self, sample_rate: int) -> LineCleaner:
        """A filter for consecutive blocks of the recording at ``sample_rate``."""
        return LineCleaner(self, sample_rate)

    def preroll(self, sample_rate: int) -> int:
        """Frames to read before a window read on its own (0 without hum)."""
        return round(PREROLL_S * sample_rate) if self.hummed else 0


class LineCleaner:
    """Takes a recording's ``LineFaults`` out of its consecutive blocks (frames x channels), each channel's notch
    state running on from one block to the next. A block comes back as it was when there is nothing to take out."""

    def __init__(self, faults: LineFaults, sample_rate: int) -> None:
        self._offsets = faults.offsets
        self._notches = [None if hum is None else hum.sos(sample_rate) for hum in faults.hums]
        self._states = [None if sos is None else np.zeros((len(sos), 2)) for sos in self._notches]

    def __call__(self, data: np.ndarray) -> np.ndarray:
        data = without_offsets(data, self._offsets)
        if all(sos is None for sos in self._notches):
            return data
        from scipy import signal as sps  # here: 0.6 s to import, for the few recordings with hum

        cleaned = np.array(data, dtype=np.float32)
        for channel, sos in enumerate(self._notches):
            if sos is not None and len(sos):
                filtered, self._states[channel] = sps.sosfilt(sos, data[:, channel], zi=self._states[channel])
                cleaned[:, channel] = filtered
        return cleaned


def line_faults(windows: Sequence[np.ndarray], sample_rate: int) -> LineFaults:
    """The faults of each channel of a recording, from ``windows`` (frames x channels) spread over it: offsets from
    their 32 ms chunks, hum from each channel's windows less its offset."""
    if not windows:
        raise ValueError("no windows to measure the line on")
    chunk = max(1, round(CHUNK_S * sample_rate))
    offsets = channel_offsets(np.concatenate([w[: len(w) // chunk * chunk] for w in windows]), chunk)
    levelled = [without_offsets(w, offsets) for w in windows]
    hums = tuple(mains_hum([w[:, c] for w in levelled], sample_rate) for c in range(windows[0].shape[1]))
    return LineFaults(offsets, hums)


def cleaned_signal(signal: np.ndarray, sample_rate: int) -> np.ndarray:
    """A mono signal held in memory less its own line faults (its offset from all its 32 ms chunks, its hum from
    its ``MONO_WINDOW_S`` windows). No audio comes before it to settle the notches on, so its first ``PREROLL_S``
    fades in from the notches run backwards, which have settled by then. The same array when there is nothing to
    take out."""
    samples = np.asarray(signal)
    cleaned = without_dc(samples, sample_rate)
    step = max(1, round(MONO_WINDOW_S * sample_rate))
    hum = mains_hum([cleaned[start : start + step] for start in range(0, len(cleaned), step)], sample_rate)
    if hum is None:
        return cleaned
    from scipy import signal as sps  # here: 0.6 s to import, for the few recordings with hum

    sos = hum.sos(sample_rate)
    forwards = sps.sosfilt(sos, cleaned)
    backwards = sps.sosfilt(sos, cleaned[::-1])[::-1]
    settle = min(len(cleaned), round(PREROLL_S * sample_rate))
    fade = np.linspace(0.0, 1.0, settle)
    forwards[:settle] = backwards[:settle] * (1.0 - fade) + forwards[:settle] * fade
    return forwards.astype(samples.dtype, copy=False)
