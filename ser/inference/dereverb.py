"""Late-reverberation suppression for the speech detector's ears, streamed block by block.

A hands-free caller's room smears each syllable into the next, and Silero hears reverberant speech weakly (hands-free
calls lose most of their missed utterances that way: BENCHMARKS.md "Call analysis"). Statistical late-reverberation
suppression (Lebart, Boucher & Denbigh 2001; Habets 2007): in a room whose sound decays by 60 dB in ``rt60_s``, the
power that reaches a time-frequency bin from more than ``delay_s`` ago is about ``exp(-2 * delta * delay_s)`` times
the power the bin had ``delay_s`` before, ``delta = 3 ln 10 / rt60_s``. Spectral subtraction of that estimate, with
a gain floor, leaves the direct sound and early reflections: onsets stand out of the tail again. Where nothing
decays (dry speech, steady noise) it takes little away.

The detector alone hears the result; the features, the voices and the rules that read chunk energies hear the
recording as it is. STFT: 32 ms periodic Hann windows, 8 ms hop, weighted overlap-add, so the output is the input
delayed by nothing but ``LATENCY`` samples held back until the next block (or the end) completes their frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME = 512  # 32 ms at 16 kHz
HOP = FRAME // 4
LATENCY = FRAME - HOP  # samples an output waits for the frames that cover it
PIECE = 256 * HOP  # samples processed at once (2 s): about 2 MB per array
_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(FRAME) / FRAME)).astype(np.float32)
_NORM = float(np.sum(_WINDOW**2) / HOP)  # analysis x synthesis windows summed over the overlaps (1.5)


@dataclass(frozen=True)
class Dereverb:
    """How late reverberation is suppressed: the room's assumed decay time (0: off), applied to streams whose sound
    falls slower than ``below_db_per_s`` (``quality.decay_db_per_s``; dry speech falls at 350-650 dB/s), the delay
    after which sound counts as late, and the lowest gain (dB) a bin is given."""

    rt60_s: float = 0.0
    below_db_per_s: float = 280.0
    delay_s: float = 0.05
    floor_db: float = -20.0


class LateReverbSuppressor:
    """One 16 kHz stream through ``Dereverb``, fed block by block: each call returns the next output samples it has
    completed (``LATENCY`` behind what was fed, until ``last`` flushes the rest), so that in all the output has as
    many samples as the input, sample for sample."""

    def __init__(self, settings: Dereverb, sample_rate: int = 16_000) -> None:
        delay = max(1, round(settings.delay_s * sample_rate / HOP))
        self._decay = float(np.exp(-2 * 3 * np.log(10) / settings.rt60_s * delay * HOP / sample_rate))
        self._floor = float(10 ** (settings.floor_db / 20))
        self._input = np.zeros(LATENCY, dtype=np.float32)  # the first frame starts LATENCY before the first sample
        self._carry = np.zeros((FRAME // HOP - 1, HOP))  # partial sums of the output hops the next frames complete
        self._past = np.zeros((delay, FRAME // 2 + 1))  # the power spectra of the last ``delay`` frames
        self._lead_in = LATENCY  # outputs still to drop: they belong before the first sample
        self._owed = 0  # samples fed and not yet returned

    def process(self, samples: np.ndarray, last: bool = False) -> np.ndarray:
        """Add samples; the output samples now complete (all that are owed when ``last``). Long blocks go through
        in pieces of ``PIECE`` samples, so that memory does not grow with the block."""
        samples = np.asarray(samples, dtype=np.float32)
        starts = range(0, max(len(samples), 1), PIECE)
        parts = [
            self._process(samples[start : start + PIECE], last and start + PIECE >= len(samples)) for start in starts
        ]
        return np.concatenate(parts)

    def _process(self, samples: np.ndarray, last: bool) -> np.ndarray:
        self._owed += len(samples)
        data = np.concatenate([self._input, samples, np.zeros(FRAME if last else 0, dtype=np.float32)])
        n_frames = max(0, (len(data) - FRAME) // HOP + 1)
        self._input = data[n_frames * HOP :]
        if n_frames == 0:
            return np.zeros(0, dtype=np.float32)
        frames = np.lib.stride_tricks.sliding_window_view(data, FRAME)[::HOP][:n_frames] * _WINDOW
        spectra = np.fft.rfft(frames, axis=1)
        power = spectra.real**2 + spectra.imag**2
        history = np.concatenate([self._past, power])
        self._past = history[n_frames:]
        late = self._decay * history[:n_frames]  # each frame's power ``delay`` frames before
        gain = np.sqrt(np.maximum(1.0 - late / np.maximum(power, 1e-20), self._floor**2))
        heard = (np.fft.irfft(spectra * gain, n=FRAME, axis=1) * (_WINDOW / _NORM)).reshape(n_frames, -1, HOP)
        overlaps = heard.shape[1]
        hops = np.zeros((n_frames + overlaps - 1, HOP))
        hops[: overlaps - 1] += self._carry
        for part in range(overlaps):  # weighted overlap-add: frame k's part p lands on output hop k + p
            hops[part : part + n_frames] += heard[:, part]
        self._carry = hops[n_frames:]
        out = hops[:n_frames].reshape(-1)
        dropped = min(self._lead_in, len(out))
        self._lead_in -= dropped
        out = out[dropped:][: self._owed]
        self._owed -= len(out)
        return out.astype(np.float32)
