"""How well a call's audio lets its emotions be heard, per role: line noise and reverberation.

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

from dataclasses import dataclass
from typing import Any

import numpy as np

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


@dataclass(frozen=True)
class SegmentAudio:
    """What one segment's audio lets be heard (see the module docstring)."""

    snr_db: float
    decay_db_per_s: float | None  # None: too few frames far enough over the noise to tell


def measure(signal: np.ndarray, sr: int) -> SegmentAudio | None:
    """The segment's SNR and decay rate; None when it is too short to tell (under 0.1 s) or silent."""
    frame, hop, span = round(FRAME_S * sr), round(HOP_S * sr), round(DECAY_SPAN_S / HOP_S)
    if signal.size < frame + (span + 1) * hop:
        return None
    energy_sums = np.concatenate([[0.0], np.cumsum(np.square(signal, dtype=np.float64))])
    starts = np.arange(0, signal.size - frame + 1, hop)
    power = (energy_sums[starts + frame] - energy_sums[starts]) / frame
    if not power.max() > 0:
        return None
    db = 10 * np.log10(power + power.max() * 1e-12)
    loud, quiet = np.percentile(db, 95), np.percentile(db, 5)
    drops = db[:-span] - db[span:]
    start = db[:-span]
    from_loud = drops[(start > loud - LOUD_WITHIN_DB) & (start > quiet + HEADROOM_DB)]
    decay = float(np.percentile(from_loud, 95) / DECAY_SPAN_S) if from_loud.size >= MIN_DECAY_FRAMES else None
    return SegmentAudio(snr_db=float(min(loud - quiet, MAX_SNR_DB)), decay_db_per_s=decay)


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def role_audio(measures: list[tuple[SegmentAudio | None, float]]) -> dict[str, Any] | None:
    """A role's audio from its segments' measures and durations: medians weighted by duration (the decay over the
    segments where it is known; None if nowhere), and warnings (``noisy``, ``reverberant``). None when no segment
    could be measured."""
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
    return {"snr_db": round(snr, 1), "decay_db_per_s": None if decay is None else round(decay), "warnings": warnings}


WARNING_TEXT = {
    "noisy": "noisy line (speech about {snr_db:.0f} dB over the noise): emotions are less reliable",
    "reverberant": "reverberant (hands-free or a room): emotions are less reliable",
}


def warning_lines(role: str, audio: dict[str, Any] | None) -> list[str]:
    """One human-readable line per warning of a role's audio."""
    if audio is None:
        return []
    return [f"{role}: {WARNING_TEXT[name].format(**audio)}" for name in audio["warnings"]]
