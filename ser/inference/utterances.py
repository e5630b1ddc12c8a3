"""The utterances of an upload to ``/pred`` (or ``ser predict``): the model was trained on single, tightly cut
sentences, so the speech in an upload is found first, each utterance is classified on its own, and their answers are
pooled.

A whole upload is often nothing like a training recording: several sentences (their pauses, length and joins), or
one sentence with a second of room or line noise before and after it, move the feature statistics far from any
EmoDB utterance (BENCHMARKS.md "Uploads of several utterances": joined same-emotion recordings of a held-out speaker,
or one recording between 1.5 s of noise at -40 dBFS, fall to 26-55 % classified whole).

The utterances are found exactly as in a mono call (``ser.inference.speech.segment``: Silero VAD, the ``analysis:``
rules of params.yaml), and each is classified from its window with the same little context
(``classification_windows``). When the detector accepts no utterance, the whole upload is classified.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from ser.inference.analysis_config import AnalysisConfig
from ser.inference.speech import classification_windows, segment
from ser.inference.vad import hears_speech


@dataclass(frozen=True)
class Utterance:
    """One utterance of an upload: where it is (s) and the samples its answer is computed from."""

    start_s: float
    end_s: float
    samples: np.ndarray

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def utterances(signal: np.ndarray, sr: int, config: AnalysisConfig, min_samples: int) -> list[Utterance]:
    """The utterances of a mono signal (see the module docstring), each with its classification window's samples;
    windows shorter than ``min_samples`` are left out."""
    buffer = io.BytesIO()
    sf.write(buffer, np.asarray(signal, dtype=np.float32), sr, format="WAV", subtype="FLOAT")
    speech = segment(buffer.getvalue(), False, config)
    windows = classification_windows(speech.segments, len(signal) / sr, config.context_s)
    found = []
    for seg in speech.segments:
        low, high = windows[seg]
        first = int(low * sr)  # as a call reads its segments (``calls._segment_signal``)
        samples = signal[first : first + int((high - low) * sr)]
        if samples.size >= min_samples:
            found.append(Utterance(seg.start_s, seg.end_s, samples))
    return found


def pooled(probabilities: np.ndarray, found: list[Utterance]) -> np.ndarray:
    """The upload's probabilities: its utterances' (rows of ``probabilities``) averaged, weighted by duration."""
    weights = np.array([utterance.duration_s for utterance in found], dtype=np.float64)
    return weights @ np.asarray(probabilities, dtype=np.float64) / weights.sum()


def speech_heard(signal: np.ndarray, sr: int, found: list[Utterance]) -> bool:
    """Whether the detector heard speech in an upload: utterances found (by the ``analysis:`` rules, 0.5 s at 0.7 by
    default: a stricter bar than the check's), or else ``vad.hears_speech`` (0.3 s at 0.3), a second pass of the
    detector that stops once it has heard enough."""
    return bool(found) or hears_speech(signal, sr)
