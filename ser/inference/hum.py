"""Mains hum on a recording's line, found where it stands out and taken out with narrow notches.

A ground loop or an unshielded analogue line adds the mains frequency (50 Hz in most of the world, 60 Hz in the
Americas) and its harmonics to every sample. Call analysis measures energies: hum lifts the noise floor of every
pause, so sentences' soft edges sink into it, pauses inside them stand out, and the noisy-line warning fires (hum
at -40 dBFS, some 25 dB under the voices, cost two pairs' calls 6-9 points of the utterances found; at -20 dBFS,
19-26 points, and 03 + 08's segment emotions 12-16).

Hum is found in the stream's *stationary* spectrum: the ``QUIET_PERCENTILE`` of each frequency bin's power over
0.5 s frames, which speech (its pitch moves) and tones that come and go do not reach. A harmonic is there when its
bin stands ``PEAK_DB`` over the bins around it; hum is there when at least ``MIN_HARMONICS`` harmonics of 50 or of
60 Hz are, their numbers share no factor (a voice holding 100 or 150 Hz lights only every second or third harmonic
of 50 Hz), and their excess power reaches ``MIN_SHARE`` of the rest of that spectrum (taking it out would lower the
floor by 0.4 dB or more). It is looked for in ``MIN_FRAMES`` frames or more (8 s of sound): in a sentence or two,
the percentile is the voice's own. So a recording without hum is read exactly as before. The mains frequency is
read from the harmonics' peaks (grids and generators drift), and the strongest ``MAX_NOTCHES`` harmonics found are
notched (Q ``NOTCH_Q``: 1.7 Hz wide at 50 Hz, 17 Hz at 500 Hz).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

MAINS_HZ = (50.0, 60.0)
FRAME_S = 0.5  # 2 Hz bins: a harmonic apart from its neighbours; frames one after another
QUIET_PERCENTILE = 20.0  # of each bin's power over the frames: the stationary spectrum
NOISE_PERCENTILE_SHARE = -np.log(1 - QUIET_PERCENTILE / 100)  # that percentile of a noise bin's power / its mean
PEAK_DB = 10.0  # a harmonic's bin over the median of the bins around it
NEAR_HZ = 6.0  # the bins around a harmonic: from this far ...
FAR_HZ = 20.0  # ... to this far from it
MIN_HARMONICS = 2
MIN_FRAMES = 16  # 8 s of sound: in a few seconds of speech a steady voice can pass for hum
MAX_HZ = 2000.0  # harmonics looked for up to here
MIN_SHARE = 0.1  # the hum's excess power against the rest of the stationary spectrum, at least
MAX_NOTCHES = 12
NOTCH_Q = 30.0
MAX_DRIFT_HZ = 1.0  # the measured mains frequency at most this far from 50 or 60 Hz


@dataclass(frozen=True)
class Hum:
    """Mains hum on one stream: the mains frequency and the harmonics to notch (Hz), strongest first."""

    mains_hz: float
    harmonics_hz: tuple[float, ...]

    def sos(self, sample_rate: int) -> np.ndarray:
        """The notches as second-order sections at ``sample_rate`` (harmonics above its Nyquist left out), designed
        once: every segment of a call is read through them."""
        return _notches(self.harmonics_hz, sample_rate)


@functools.lru_cache(maxsize=32)
def _notches(harmonics_hz: tuple[float, ...], sample_rate: int) -> np.ndarray:
    from scipy import signal as sps  # here: scipy.signal takes 0.6 s to import, and most calls have no hum

    sections = [sps.tf2sos(*sps.iirnotch(f, NOTCH_Q, fs=sample_rate)) for f in harmonics_hz if f < sample_rate / 2]
    return np.vstack(sections) if sections else np.zeros((0, 6))  # shared by every caller: read, never written


def _sounding_frames(windows: Iterable[np.ndarray], frame: int) -> np.ndarray | None:
    """The ``frame``-long frames (one after another, float32, each less its mean) of mono ``windows`` that are not
    digital silence; None with fewer than ``MIN_FRAMES``."""
    framed = [
        np.asarray(window[: len(window) // frame * frame], dtype=np.float32).reshape(-1, frame)
        for window in windows
        if len(window) >= frame
    ]
    if not framed:
        return None
    frames = np.concatenate(framed)
    frames = frames[np.ptp(frames, axis=1) > 0]
    return frames - frames.mean(axis=1, keepdims=True) if len(frames) >= MIN_FRAMES else None


def mains_hum(windows: Iterable[np.ndarray], sample_rate: int) -> Hum | None:
    """The mains hum on a stream (its mono ``windows``, e.g. spread over a recording), or None where there is none
    worth taking out (see the module docstring)."""
    frame = round(FRAME_S * sample_rate)
    frames = _sounding_frames(windows, frame)
    if frames is None:  # before any transform: a short upload costs nothing
        return None
    taper = np.hanning(frame).astype(np.float32)
    bin_hz = sample_rate / frame
    # the stationary spectrum: each bin's power as the quietest of the frames leave it
    spectrum = np.percentile(np.abs(np.fft.rfft(frames * taper, axis=1)) ** 2, QUIET_PERCENTILE, axis=0)
    found: list[tuple[float, list[tuple[int, float, float]]]] = []
    for mains in MAINS_HZ:
        harmonics = [(k, _peak(spectrum, k * mains, bin_hz)) for k in range(1, int(MAX_HZ // mains) + 1)]
        present = [(k, *peak) for k, peak in harmonics if peak is not None and k * mains + FAR_HZ < sample_rate / 2]
        if math.gcd(*(k for k, _, _ in present)) == 1:  # a steady voice's harmonics: all multiples of its pitch
            found.append((mains, present))
    if not found:
        return None
    mains, present = max(found, key=lambda item: (len(item[1]), sum(excess for _, excess, _ in item[1])))
    if len(present) < MIN_HARMONICS:
        return None
    # against the rest of the stationary spectrum, each bin's percentile brought to its mean as a noise bin's is
    # (a bin's quiet frames differ from another's: in a mono call few frames are quiet in every bin at once)
    hum_power = sum(excess for _, excess, _ in present)
    rest = max(float(spectrum.sum()) - hum_power, 0.0) / NOISE_PERCENTILE_SHARE
    if hum_power < MIN_SHARE * rest:
        return None
    # the mains frequency as the harmonics' peaks tell it (grids and generators drift by tenths of a hertz, and the
    # notches at higher harmonics must follow), weighted by their power
    measured = sum(excess * peak_hz / k for k, excess, peak_hz in present) / hum_power
    mains = float(np.clip(measured, mains - MAX_DRIFT_HZ, mains + MAX_DRIFT_HZ))
    strongest = sorted(present, key=lambda item: -item[1])[:MAX_NOTCHES]
    return Hum(round(mains, 3), tuple(round(k * mains, 3) for k, _, _ in strongest))


def _peak(spectrum: np.ndarray, frequency: float, bin_hz: float) -> tuple[float, float] | None:
    """The power a harmonic near ``frequency`` adds over the bins around it and where its peak lies (Hz, between
    bins by a parabola through the log powers), or None when its peak does not stand ``PEAK_DB`` over them."""
    centre = round(frequency / bin_hz)
    near, far = int(np.ceil(NEAR_HZ / bin_hz)), int(np.ceil(FAR_HZ / bin_hz))
    if centre - far < 0 or centre + far >= len(spectrum):
        return None
    below, above = spectrum[centre - far : centre - near], spectrum[centre + near + 1 : centre + far + 1]
    around = np.median(np.concatenate([below, above]))
    top = centre - 1 + int(np.argmax(spectrum[centre - 1 : centre + 2]))
    if around <= 0 or spectrum[top] < around * 10 ** (PEAK_DB / 10):
        return None
    left, middle, right = np.log(np.maximum(spectrum[top - 1 : top + 2], 1e-30))
    curvature = left - 2 * middle + right
    shift = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
    excess = float(np.sum(np.maximum(spectrum[centre - near + 1 : centre + near] - around, 0.0)))
    return excess, (top + float(np.clip(shift, -0.5, 0.5))) * bin_hz
