"""How well a call's audio lets its emotions be heard, per role: line noise and reverberation.

The model is least accurate on noisy lines and on hands-free callers (BENCHMARKS.md: five test pairs, babble at
10 dB SNR 0.85, hands-free 0.81, against 0.90 on clean audio), and it does not know it: its mean top probability
falls by only about 0.05 there. So every segment is measured for two things the model cannot see, and a role whose
speech is mostly noisy or reverberant gets a warning beside its figures:

- ``snr_db``: the segment's loud frames (95th percentile of 20 ms frame energies) over its quiet ones (5th percentile:
  the pauses and the edges of the segment's window), i.e. roughly the speech's level over the line's noise (at most
  ``MAX_SNR_DB``).
- ``decay_db_per_s``: how fast the speech's energy can fall, the 95th percentile of the drops over 40 ms that start
  within 25 dB of the segment's loud frames. Dry speech stops within a few milliseconds (400-800 dB/s on EmoDB's
  training speakers, through every codec); in a room the reverberation holds every stop up (a room with RT60
  0.5 s falls 120 dB/s). Noise hides the decay too, so a role is called reverberant only when it is not noisy.

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
# A role is flagged below these (duration-weighted medians over its segments). Training speakers, one utterance
# each, 10th-50th-90th percentiles: SNR clean 31-39-53 dB, white noise 10 dB 15-16-18, babble 10 dB 17-20-23;
# decay clean 339-474-644 dB/s, codecs 343-441 (10th), hands-free (RT60 0.5 s) 152-173-199, `room` 139-178-240.
NOISY_BELOW_DB = 20.0
MAX_SNR_DB = 60.0  # reported at most: digital silence between words would read 120 dB
REVERBERANT_BELOW_DB_PER_S = 280.0


@dataclass(frozen=True)
class SegmentAudio:
    """What one segment's audio lets be heard (see the module docstring)."""

    snr_db: float
    decay_db_per_s: float


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
    from_loud = drops[db[:-span] > loud - LOUD_WITHIN_DB]
    return SegmentAudio(
        snr_db=float(min(loud - quiet, MAX_SNR_DB)), decay_db_per_s=float(np.percentile(from_loud, 95) / DECAY_SPAN_S)
    )


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def role_audio(measures: list[tuple[SegmentAudio | None, float]]) -> dict[str, Any] | None:
    """A role's audio from its segments' measures and durations: medians weighted by duration, and warnings
    (``noisy``, ``reverberant``). None when no segment could be measured."""
    known = [(m, duration) for m, duration in measures if m is not None]
    if not known:
        return None
    weights = np.array([duration for _, duration in known])
    snr = _weighted_median(np.array([m.snr_db for m, _ in known]), weights)
    decay = _weighted_median(np.array([m.decay_db_per_s for m, _ in known]), weights)
    warnings = []
    if snr < NOISY_BELOW_DB:
        warnings.append("noisy")
    elif decay < REVERBERANT_BELOW_DB_PER_S:
        warnings.append("reverberant")
    return {"snr_db": round(snr, 1), "decay_db_per_s": round(decay), "warnings": warnings}


WARNING_TEXT = {
    "noisy": "noisy line (speech about {snr_db:.0f} dB over the noise): emotions are less reliable",
    "reverberant": "reverberant (hands-free or a room): emotions are less reliable",
}


def warning_lines(role: str, audio: dict[str, Any] | None) -> list[str]:
    """One human-readable line per warning of a role's audio."""
    if audio is None:
        return []
    return [f"{role}: {WARNING_TEXT[name].format(**audio)}" for name in audio["warnings"]]
