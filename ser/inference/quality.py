"""How well a call's audio lets its emotions (and its voices) be heard, per role: line noise, reverberation, band.

The model is least accurate on noisy lines and on hands-free callers (BENCHMARKS.md: five test pairs, babble at
10 dB SNR 0.85, hands-free 0.81, against 0.90 on clean audio), and it does not know it: its mean top probability
falls by only about 0.05 there. So every segment is measured for two things the model cannot see, and a role whose
speech is mostly noisy or reverberant gets a warning beside its figures:

- ``snr_db``: the segment's loud frames (95th percentile of 20 ms frame energies) over its quiet ones (5th percentile:
  the pauses and the edges of the segment's window), i.e. roughly the speech's level over the line's noise (at most
  ``MAX_SNR_DB``).
- ``decay_db_per_s``: how fast the speech's energy can fall, the 95th percentile of the drops over 40 ms that start
  within 25 dB of the segment's loud frames and at least 15 dB over its quiet ones (so that line noise, which
  stops a fall, does not pass for reverberation; unknown with fewer than 10 such frames). Dry speech stops within
  a few milliseconds (350-650 dB/s on EmoDB's training speakers, through every codec and in noise down to 20 dB
  SNR); a room's reverberation holds every stop up (a room with RT60 0.5 s falls 120 dB/s).

Thresholds were set on the training speakers' recordings (through the training and evaluation conditions), never
on the test speakers; the measures are label-free and cheap (one pass of running sums per segment).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.fft

FRAME_S = 0.02
HOP_S = 0.005
DECAY_SPAN_S = 0.04
LOUD_WITHIN_DB = 25.0
HEADROOM_DB = 15.0  # a fall is measured only from frames this far over the quiet ones
MIN_DECAY_FRAMES = 10
# A role is flagged below these (duration-weighted medians over its segments). Training speakers' recordings, one
# each, 10th-50th-90th percentiles: SNR clean 31-39-53 dB, white noise 10 dB 15-16-18, babble 10 dB 17-20-23,
# white / pink / babble 20 dB 24-31; decay clean 348-477-644 dB/s, codecs 357-384 (10th), noise 20-30 dB 306-343
# (10th), noise 10 dB 199-351-428; hands-free (RT60 0.5 s, A-law) 153-175-211, RT60 0.3 s 183-217-244, `room`
# 143-202-274 (benchmarks/LOG.md, session 27).
# SNR: midway between noise at 10 dB (90th percentile 23) and at 20 dB (10th percentile 24); decay: between `room`
# (90th percentile 274) and noise at 20 dB (10th percentile 306).
NOISY_BELOW_DB = 23.5
MAX_SNR_DB = 60.0  # reported at most: digital silence between words would read 120 dB
REVERBERANT_BELOW_DB_PER_S = 280.0
# Telephone band: every second training recording, share of its energy above 4 kHz, 1st-50th-99th percentiles:
# clean -26.6 / -17.5 / -9.0 dB, white or babble noise 10 dB and level changes within -29.1 (1st) and -7.5 (99th);
# G.711, GSM, MP3, AMR-NB at 8 kHz at the floor (-120); Opus narrow-band 12 kb/s, whose decoder leaves some energy
# above 4 kHz, -50.3 / -38.5 / -25.5 (benchmarks/LOG.md, session 36). A role whose median is below this is heard
# through a telephone-band line.
NARROW_BAND_BELOW_DB = -30.0
BAND_EDGE_HZ = 4000.0
MIN_HIGH_BAND_DB = -120.0  # audio sampled at 8 kHz or less: nothing above 4 kHz
BAND_BLOCK = 4096  # samples per spectrum (0.26 s at 16 kHz)
BLOCKS_AT_ONCE = 64


@dataclass(frozen=True)
class SegmentAudio:
    """What one segment's audio lets be heard (see the module docstring)."""

    snr_db: float
    decay_db_per_s: float | None  # None: too few frames far enough over the noise to tell
    high_band_db: float  # the share of the energy above 4 kHz (dB)


def measure(signal: np.ndarray, sr: int) -> SegmentAudio | None:
    """The segment's SNR, decay rate and energy above 4 kHz; None when it is too short to tell (under 0.1 s) or
    silent."""
    framed = _frame_levels(signal, sr)
    if framed is None:
        return None
    db, loud, quiet = framed
    return SegmentAudio(float(min(loud - quiet, MAX_SNR_DB)), _decay(db, loud, quiet), _high_band_db(signal, sr))


def reverberant(signal: np.ndarray, sr: int) -> bool:
    """Whether the signal's sound falls slower than ``REVERBERANT_BELOW_DB_PER_S`` (unknown: False)."""
    decay = decay_db_per_s(signal, sr)
    return decay is not None and decay < REVERBERANT_BELOW_DB_PER_S


def decay_db_per_s(signal: np.ndarray, sr: int) -> float | None:
    """``measure``'s decay rate alone (None: too short, silent, or too few frames far enough over the noise)."""
    framed = _frame_levels(signal, sr)
    return None if framed is None else _decay(*framed)


def _frame_levels(signal: np.ndarray, sr: int) -> tuple[np.ndarray, float, float] | None:
    """The 20 ms frame energies (dB, every 5 ms) with their loud (95th) and quiet (5th percentile) levels; None when
    the signal is too short to measure a decay or silent."""
    frame, hop, span = round(FRAME_S * sr), round(HOP_S * sr), round(DECAY_SPAN_S / HOP_S)
    if signal.size < frame + (span + 1) * hop:
        return None
    framed = frame_db(signal, frame, hop)
    if framed is None:
        return None
    db = framed[1]
    return db, float(np.percentile(db, 95)), float(np.percentile(db, 5))


def _decay(db: np.ndarray, loud: float, quiet: float) -> float | None:
    span = round(DECAY_SPAN_S / HOP_S)
    drops = db[:-span] - db[span:]
    start = db[:-span]
    from_loud = drops[(start > loud - LOUD_WITHIN_DB) & (start > quiet + HEADROOM_DB)]
    return float(np.percentile(from_loud, 95) / DECAY_SPAN_S) if from_loud.size >= MIN_DECAY_FRAMES else None


@functools.cache
def _hann(size: int) -> np.ndarray:
    return np.hanning(size).astype(np.float32)


def frame_db(signal: np.ndarray, frame: int, hop: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The start sample and energy (dB, floored 120 dB under the loudest) of every ``frame`` samples of ``signal``
    every ``hop`` (running sums); None when it is silent."""
    sums = np.concatenate([[0.0], np.cumsum(np.square(signal, dtype=np.float64))])
    starts = np.arange(0, signal.size - frame + 1, hop)
    power = (sums[starts + frame] - sums[starts]) / frame
    if not power.max() > 0:
        return None
    return starts, 10 * np.log10(power + power.max() * 1e-12)


def _high_band_db(signal: np.ndarray, sr: int) -> float:
    """The share of ``signal``'s energy above ``BAND_EDGE_HZ``, in dB (``MIN_HIGH_BAND_DB`` at rates of 8 kHz or
    less), from the Hann-windowed spectra of its whole blocks of ``BAND_BLOCK`` samples (the whole signal when
    shorter; without the window a block's edges leak up to -32 dB into the band), ``BLOCKS_AT_ONCE`` at a time, so
    that a long upload costs no more memory than a short one."""
    if sr <= 2 * BAND_EDGE_HZ:
        return MIN_HIGH_BAND_DB
    block = min(BAND_BLOCK, signal.size)
    edge = int(np.ceil(BAND_EDGE_HZ * block / sr))
    blocks = signal[: signal.size // block * block].reshape(-1, block)
    high = total = 0.0
    for start in range(0, len(blocks), BLOCKS_AT_ONCE):
        spectrum = scipy.fft.rfft(blocks[start : start + BLOCKS_AT_ONCE] * _hann(block), axis=1, workers=1)
        power = np.square(spectrum.real) + np.square(spectrum.imag)
        high += float(power[:, edge:].sum(dtype=np.float64))
        total += float(power.sum(dtype=np.float64))
    return float(max(10 * np.log10(high / total), MIN_HIGH_BAND_DB)) if high > 0 else MIN_HIGH_BAND_DB


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def role_audio(measures: list[tuple[SegmentAudio | None, float]]) -> dict[str, Any] | None:
    """A role's audio from its segments' measures and durations: medians weighted by duration (the decay over the
    segments where it is known; None if nowhere), whether it is telephone-band (``narrow_band``: the median share of
    energy above 4 kHz under ``NARROW_BAND_BELOW_DB``) and warnings (``noisy``, ``reverberant``; a narrow band is no
    warning for the emotions). None when no segment could be measured."""
    known = [(m, duration) for m, duration in measures if m is not None]
    if not known:
        return None
    snr = _weighted_median(np.array([m.snr_db for m, _ in known]), np.array([d for _, d in known]))
    timed = [(m.decay_db_per_s, d) for m, d in known if m.decay_db_per_s is not None]
    decay = _weighted_median(np.array([v for v, _ in timed]), np.array([d for _, d in timed])) if timed else None
    warnings = []
    if snr < NOISY_BELOW_DB:
        warnings.append("noisy")
    if decay is not None and decay < REVERBERANT_BELOW_DB_PER_S:
        warnings.append("reverberant")
    high_band = _weighted_median(np.array([m.high_band_db for m, _ in known]), np.array([d for _, d in known]))
    return {
        "snr_db": round(snr, 1),
        "decay_db_per_s": None if decay is None else round(decay),
        "narrow_band": bool(high_band < NARROW_BAND_BELOW_DB),
        "warnings": warnings,
    }


WARNING_TEXT = {
    "noisy": "noisy line (speech about {snr_db:.0f} dB over the noise): emotions are less reliable",
    "reverberant": "reverberant (hands-free or a room): emotions are less reliable",
}


def warning_lines(role: str, audio: dict[str, Any] | None) -> list[str]:
    """One human-readable line per warning of a role's audio."""
    if audio is None:
        return []
    return [f"{role}: {WARNING_TEXT[name].format(**audio)}" for name in audio["warnings"]]
