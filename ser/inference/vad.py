"""Voice-activity detection with Silero VAD (v6, MIT licence), run through onnxruntime.

The model ships inside the ``silero-vad`` wheel on PyPI (``silero_vad_16k_sequence.onnx``, sha256 checked); we read
that file and never import the package, whose Python side would load torch into the API workers. Silero's network
is a small convolutional front end and an LSTM over 32 ms chunks of 16 kHz audio, trained to tell speech from
music, tones and noise: hold music, ring-back and busy tones, DTMF digits and line noise stay far below its
threshold, while speech is found at any level and through telephone channels (BENCHMARKS.md, "Call analysis").

``VoiceActivity`` streams: audio is fed in blocks of any length and the LSTM state is carried across them, so a
two-hour call costs memory for its probabilities only (one float per 32 ms). ``stream_activity`` reads a recording
block by block and feeds each channel (or their mix), resampled to 16 kHz, to its own detector, which stops and
forgets its state after a long quiet, or after 2 s it hears as no speech (``DetectorGate``); a stream that sounds
reverberant reaches it with its late reverberation suppressed (``ser.inference.dereverb``).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy.ndimage import percentile_filter

from ser.audio.decoding import UNDECODABLE, AudioError
from ser.audio.mixing import mix_down, polarity
from ser.features.pretrained import package_file, verified
from ser.inference.dereverb import Dereverb, LateReverbSuppressor
from ser.inference.line import LineFaults, cleaned_signal, line_faults
from ser.inference.quality import decay_db_per_s
from ser.onnx_runtime import single_thread_session

SAMPLE_RATE = 16_000
CHUNK = 512  # 32 ms: one speech probability per chunk
CONTEXT = 64  # the model sees the last 64 samples of the previous chunk in front of each chunk
CHUNK_S = CHUNK / SAMPLE_RATE
MODEL_FILE = "data/silero_vad_16k_sequence.onnx"
MODEL_SHA256 = "9ccdacc4719d8aa7e45a77536bfabec45a03ba1f2fad5e241ab4060b24238a85"  # silero-vad 6.2.3
BATCH_CHUNKS = 4096  # chunks per onnxruntime call (≈ 2 min of audio, 9 MB of input)
# The detector is not level-invariant (a call 30 dB quieter gave 11 segments in hold music instead of 1, on calls of
# training speakers): each stream reaches it at this active level (the 90th percentile of its 32 ms chunk energies,
# measured in SPREAD_WINDOWS windows of SPREAD_WINDOW_S spread over the recording), about that of the synthetic calls
# its settings were chosen on (-14 to -21 dBFS). The chunk energies the segments' edges use stay as recorded.
DETECTOR_LEVEL_DBFS = -15.0
DIGITAL_SILENCE = 1e-10  # mean square power of a chunk (-100 dBFS) below which it is taken for exact zeros
SPREAD_WINDOWS = 48
SPREAD_WINDOW_S = 1.0

_lock = threading.Lock()
_session = None


def model_path() -> Path:
    path = package_file(
        "silero_vad", MODEL_FILE, "speech detection in calls", "pip install silero-vad (listed in requirements.txt)"
    )
    return verified(path, MODEL_SHA256, "silero-vad 6.2.3's 16 kHz sequence model")


def session():  # type: ignore[no-untyped-def]
    """The onnxruntime session, created once per process, on one thread (the workers are the parallelism)."""
    global _session
    with _lock:
        if _session is None:
            _session = single_thread_session(model_path())
        return _session


class VoiceActivity:
    """Speech probability of every 32 ms chunk of one 16 kHz stream, fed block by block."""

    def __init__(self) -> None:
        self._pending = np.zeros(0, dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._probabilities: list[np.ndarray] = []

    def reset(self) -> None:
        """Forget what was heard (the state of a new recording); probabilities so far are kept."""
        self._pending = np.zeros(0, dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)

    def feed(self, samples: np.ndarray) -> np.ndarray:
        """Add 16 kHz float samples; every complete chunk gets its probability (returned for these samples)."""
        data = np.concatenate([self._pending, np.asarray(samples, dtype=np.float32)])
        n_chunks = len(data) // CHUNK
        self._pending = data[n_chunks * CHUNK :]
        known = len(self._probabilities)
        for first in range(0, n_chunks, BATCH_CHUNKS):
            count = min(BATCH_CHUNKS, n_chunks - first)
            block = data[first * CHUNK : (first + count) * CHUNK]
            padded = np.concatenate([self._context, block])
            rows = np.lib.stride_tricks.sliding_window_view(padded, CHUNK + CONTEXT)[::CHUNK]
            probabilities, self._h, self._c = session().run(
                None, {"input": np.ascontiguousarray(rows), "h": self._h, "c": self._c}
            )
            self._probabilities.append(np.asarray(probabilities, dtype=np.float32).reshape(-1))
            self._context = block[-CONTEXT:]
        new = self._probabilities[known:]
        return np.concatenate(new) if new else np.zeros(0, dtype=np.float32)

    def probabilities(self) -> np.ndarray:
        """One speech probability per 32 ms chunk fed so far (a last partial chunk is left out)."""
        return np.concatenate(self._probabilities) if self._probabilities else np.zeros(0, dtype=np.float32)


@dataclass(frozen=True)
class DetectorGate:
    """When the detector listens. After ``reset_s`` of chunks quieter than ``margin_db`` over the stream's noise
    floor, it stops and forgets; the next loud chunk wakes it with a clear state, fed the ``lead_s`` of audio
    before that chunk first. Quiet chunks it does not hear have probability 0. ``reset_s`` 0: it hears everything.

    Why: Silero's state drifts over a long near-silence (a stereo call's channel while the other party speaks),
    after which it hears reverberant speech late or not at all; woken with a clear state it hears it as it does at
    the start of a recording. It also spends no time on that silence.

    Noise that a handset's automatic gain control lifts in every pause stays loud, so the gate never stops there
    and the state drifts all the same. While it listens, ``reset_s`` of idle chunks in a row (heard below
    ``idle_probability``, less than ``idle_margin_db`` over the floor: not music or tones as loud as speech, after
    which a cleared state hears the next onset late) clear its state too: it goes on listening, first fed the
    ``lead_s`` before (whose probabilities stand). ``idle_probability`` 0 turns that off.
    """

    reset_s: float = 0.0
    lead_s: float = 0.5
    margin_db: float = 6.0
    idle_probability: float = 0.0
    idle_margin_db: float = 20.0


class GatedVoiceActivity:
    """``VoiceActivity`` of one stream, listening only around loud chunks (``DetectorGate``); fed whole chunks."""

    def __init__(self, floor_db: float, gate: DetectorGate) -> None:
        self._detector = VoiceActivity()
        self._loud_db = floor_db + gate.margin_db
        self._reset = max(0, round(gate.reset_s / CHUNK_S))
        self._lead = max(0, round(gate.lead_s / CHUNK_S))
        self._listening = False
        self._quiet = 0
        self._unheard: list[tuple[np.ndarray, float]] = []  # the latest quiet chunks not fed (at most ``lead``)
        self._silent = 0  # chunks given probability 0 since the last feed
        self._parts: list[np.ndarray] = []
        self._idle_probability = gate.idle_probability if self._reset else 0.0
        self._idle_db = floor_db + gate.idle_margin_db
        self._idle = 0  # idle chunks in a row since the detector's state was last cleared
        self._heard = np.zeros((0, CHUNK), dtype=np.float32)  # the latest chunks heard (at most ``lead`` of them)

    def feed(self, chunks: np.ndarray, energy_db: np.ndarray) -> None:
        """Add whole 32 ms chunks (chunks x CHUNK, at the detector's level) with their energies (dB, as recorded)."""
        run: list[tuple[np.ndarray, float]] = []
        for chunk, energy in zip(chunks, energy_db, strict=True):
            loud = bool(energy >= self._loud_db)
            if self._listening:
                run.append((chunk, energy))
                self._quiet = 0 if loud else self._quiet + 1
                if self._reset and self._quiet >= self._reset:
                    self._hear(run)
                    run, self._listening = [], False
            elif loud or not self._reset:
                self._detector.reset()
                run = [*self._unheard, (chunk, energy)]
                self._unheard, self._listening, self._quiet, self._idle = [], True, 0, 0
                self._heard = self._heard[:0]  # a warm-up after this wake hears only what follows it
            else:
                self._unheard.append((chunk, energy))
                if len(self._unheard) > self._lead:
                    self._unheard.pop(0)
                    self._silent += 1
        self._hear(run)

    def _skip(self) -> None:
        """The chunks given probability 0 so far go out, in order, before the next heard ones."""
        if self._silent:
            self._parts.append(np.zeros(self._silent, dtype=np.float32))
            self._silent = 0

    def _hear(self, run: list[tuple[np.ndarray, float]]) -> None:
        if not run:
            return
        self._skip()
        chunks = np.stack([chunk for chunk, _ in run])
        if not self._idle_probability:
            self._parts.append(self._detector.feed(chunks.reshape(-1)))
            return
        soft = np.array([energy for _, energy in run]) < self._idle_db
        start = 0
        while start < len(chunks):
            # up to the first chunk that could end ``reset`` idle chunks in a row (were every soft chunk idle), so
            # that the state is cleared exactly there and no chunk is heard twice
            possible = np.flatnonzero(_runs(soft[start:], self._idle) >= self._reset)
            stop = len(chunks) if possible.size == 0 else start + int(possible[0]) + 1
            probabilities = self._detector.feed(chunks[start:stop].reshape(-1))
            self._parts.append(probabilities)
            idle = (probabilities < self._idle_probability) & soft[start:stop]
            self._idle = int(_runs(idle, self._idle)[-1])
            if self._lead:
                self._heard = np.concatenate([self._heard, chunks[start:stop][-self._lead :]])[-self._lead :]
            start = stop
            if self._idle >= self._reset:
                self._detector.reset()
                self._detector.feed(self._heard.reshape(-1))  # warmed up on the lead; its probabilities stand
                self._idle = 0

    def probabilities(self) -> np.ndarray:
        """One speech probability per chunk fed so far."""
        parts = [*self._parts, np.zeros(self._silent + len(self._unheard), dtype=np.float32)]
        return np.concatenate(parts)


def _runs(flags: np.ndarray, before: int) -> np.ndarray:
    """For each flag, how many flags in a row up to it are set (``before`` of them set just before the first)."""
    index = np.arange(len(flags))
    last_unset = np.maximum.accumulate(np.where(flags, -1, index)) if len(flags) else index
    return np.where(last_unset < 0, index + 1 + before, index - last_unset)


@dataclass(frozen=True)
class SpeechRules:
    """How chunk probabilities become speech regions (seconds)."""

    threshold: float = 0.5  # speech starts where the probability reaches this ...
    release: float = 0.35  # ... and lasts until it falls below this
    min_gap_s: float = 0.35  # shorter pauses do not split a region
    min_speech_s: float = 0.4  # shorter regions are dropped ...
    min_confident_s: float = 0.25  # ... and so are regions with less than this at or above the threshold
    min_confident_share: float = 0.0  # ... or with a smaller share of their chunks at or above it
    padding_s: float = 0.05  # added on both sides (the model reacts about one chunk late)
    # The model often reacts a few hundred ms after a soft onset, later still after a long silence: a region's
    # edges move out over neighbouring chunks that stay ``edge_margin_db`` above the stream's noise floor (its
    # 10th-percentile chunk energy), by at most ``edge_extension_s``, never closer than ``min_gap_s`` to another
    # region. 0 (the default here; the values live in ``analysis:`` of params.yaml) turns it off.
    edge_extension_s: float = 0.0
    edge_margin_db: float = 10.0
    # Where the background itself sounds like speech to the model (babble: other people talking behind the caller;
    # its median probability over the chunks within 3 dB of the noise floor at least SPEECHLIKE_BACKGROUND), only
    # chunks this far above the floor can be speech. 0 turns it off.
    background_margin_db: float = 0.0
    # ... and a region, once started there, goes on over chunks only this far above the floor (energy hysteresis,
    # as ``release`` is for the probability); None: the same margin.
    background_release_db: float | None = None
    # A region whose loud chunks (its 90th-percentile chunk energy) stay more than this many dB under the stream's
    # speech level (the 90th percentile of the energies of the chunks at or above the threshold) is the background
    # (voices behind the caller), not the caller. 0 turns it off.
    quiet_region_db: float = 0.0
    # A pause splits a region only if it holds ``min_gap_s`` of chunks in a row within this many dB of the noise floor
    # (with the quiet chunks next to it the model still, or already, hears as speech): where the probability dips but
    # the energy does not fall (a breath, a soft consonant, a held vowel the model doubts), the speaker has not
    # stopped. 0 turns it off (a dip of the probability alone splits).
    pause_margin_db: float = 0.0


# The background sounds like speech when the detector's median probability over the chunks within 3 dB of the noise
# floor reaches SPEECHLIKE_BACKGROUND (loud babble), or when the floor itself rises and falls as voices do: over
# SPREAD_CHUNKS chunks (96 ms) of power, the stream's 10th percentile stands BABBLE_SPREAD_DB or more over its 1st
# (digital silence left out). Steady noise (white and pink down to 0 dB SNR, brown at 5-10 dB; line hiss; a room's
# tail) spreads by at most 2.1 dB, babble 20 dB under the voices by 3.2 dB or more (LOG.md "Session 14"); averaging
# 96 ms evens out the chunk-to-chunk jitter of low-frequency noise, not the syllables of voices.
# A spread that only a slow change of level makes is no babble: a handset's or softphone's automatic gain control
# raises the line noise in every pause by up to its maximum gain and lowers it again when speech returns, which
# spreads steady noise by 4.6-11.5 dB (6-30 dB of gain). So the floor must also rise and fall within a second: the
# median over the stream of the 10th-minus-1st-percentile spread within LOCAL_SPREAD_CHUNKS (1 s) of the same
# 96 ms powers reaches BABBLE_LOCAL_SPREAD_DB (steady noise, also pumped by gain control, 0.1-1.3 dB; babble 15-25 dB
# under the voices, also through μ-law, 1.5-2.8 dB and at least 1.74 wherever the first test fires; LOG.md
# "Session 37").
SPEECHLIKE_BACKGROUND = 0.5
SPREAD_CHUNKS = 3
BABBLE_SPREAD_DB = 2.7
LOCAL_SPREAD_CHUNKS = 31
BABBLE_LOCAL_SPREAD_DB = 1.5


def speech_regions(
    probabilities: np.ndarray, rules: SpeechRules, energy_db: np.ndarray | None = None
) -> list[tuple[float, float]]:
    """Speech regions (start_s, end_s) from chunk probabilities, with hysteresis, gap merging and padding; with
    the chunks' energies (dB), edges are extended over the loud chunks around them (``SpeechRules``).

    A region needs ``min_confident_s`` of chunks at or above the threshold, and ``min_confident_share`` of its
    length once its edges are extended: music and tones make the model spike for a chunk or two (and linger
    above the release level after) while staying loud around the spikes; speech holds the model above the
    threshold.

    With ``pause_margin_db``, a dip of the probability where the energy does not fall quiet is no pause (the two
    sides are one region); a region so joined that then fails the confidence rules gives back the regions its
    pieces make without the rule, so joining never loses speech.
    """
    if energy_db is not None and rules.background_margin_db > 0:
        probabilities = _above_speechlike_background(probabilities, np.asarray(energy_db), rules)
    heard = _hysteresis(probabilities, rules)
    if energy_db is None or rules.pause_margin_db <= 0:
        return _regions(heard, probabilities, rules, energy_db)
    joined = _regions(heard, probabilities, rules, energy_db)
    pieces = _regions(heard, probabilities, replace(rules, pause_margin_db=0.0), energy_db)
    lost = [piece for piece in pieces if not any(piece[0] < e and s < piece[1] for s, e in joined)]
    return sorted(joined + lost)


def _hysteresis(probabilities: np.ndarray, rules: SpeechRules) -> list[tuple[float, float]]:
    """Stretches (start_s, end_s) from where the probability reaches the threshold to where it falls below the
    release."""
    regions: list[tuple[float, float]] = []
    active, start = False, 0
    for index, p in enumerate(probabilities):
        if not active and p >= rules.threshold:
            active, start = True, index
        elif active and p < rules.release:
            regions.append((start * CHUNK_S, index * CHUNK_S))
            active = False
    if active:
        regions.append((start * CHUNK_S, len(probabilities) * CHUNK_S))
    return regions


def _regions(
    heard: list[tuple[float, float]], probabilities: np.ndarray, rules: SpeechRules, energy_db: np.ndarray | None
) -> list[tuple[float, float]]:
    """``speech_regions`` from the stretches ``_hysteresis`` heard (probabilities already held under a speech-like
    background): pauses merged, then the confidence rules, edges and padding."""
    unquiet = _unquiet_pauses(energy_db, len(probabilities), rules)
    merged: list[list[float]] = []
    for start_s, end_s in heard:
        if merged and (start_s - merged[-1][1] < rules.min_gap_s or unquiet(merged[-1][1], start_s)):
            merged[-1][1] = end_s
        else:
            merged.append([start_s, end_s])
    end = len(probabilities) * CHUNK_S
    confident = np.concatenate([[0], np.cumsum(np.asarray(probabilities) >= rules.threshold)])

    def confident_s(start_s: float, end_s: float) -> float:
        return float(confident[round(end_s / CHUNK_S)] - confident[round(start_s / CHUNK_S)]) * CHUNK_S

    kept = [(s, e) for s, e in merged if e - s >= rules.min_speech_s and confident_s(s, e) >= rules.min_confident_s]
    if energy_db is not None and rules.edge_extension_s > 0 and kept:
        kept = _extended_edges(kept, np.asarray(energy_db)[: len(probabilities)], rules)
    kept = [(s, e) for s, e in kept if confident_s(s, e) >= rules.min_confident_share * (e - s)]
    if energy_db is not None and rules.quiet_region_db > 0 and kept:
        kept = _loud_enough(kept, np.asarray(probabilities), np.asarray(energy_db), rules)
    return [(max(0.0, s - rules.padding_s), min(end, e + rules.padding_s)) for s, e in kept]


def _per_chunk(energy_db: np.ndarray, length: int) -> np.ndarray:
    """Chunk energies cut or padded with NaN (unknown) to ``length`` chunks."""
    energy = np.full(length, np.nan)
    energy[: min(length, len(energy_db))] = energy_db[:length]
    return energy


# A line that crackles (an analogue line's clicks, bit errors) breaks the quiet of every pause with loud runs of a
# chunk or two; on such a line (``_crackles``) they do not end a pause. Two pairs' calls with three clicks a second
# found 67.5-72.9 % of the utterances, neighbours merged; on every line, EmoDB's own smacks and bursts in the pauses
# inside sentences would split 1-1.6 % more of them.
CLICK_CHUNKS = 2  # a loud run at most this long (64 ms) ...
CLICK_QUIET_CHUNKS = 3  # ... with at least this much quiet on both sides is a click
CRACKLE_PER_MINUTE = 10.0  # clicks per minute of quiet on a line that crackles (the five pairs' calls: at most 4.3)
MIN_CLICKS = 10


def _run_lengths(flags: np.ndarray) -> np.ndarray:
    """For each element of ``flags``, the length of the run of True it is in (0 where False)."""
    run = np.cumsum(flags & ~np.append(False, flags[:-1])) * flags  # 1, 2, ... for each run; 0 outside
    return np.bincount(run)[run] * flags


def _crackles(loud: np.ndarray, short: np.ndarray) -> bool:
    """Whether a stream's quiet (its chunks not ``loud``) is broken by clicks (runs in ``short``, the loud runs of at
    most ``CLICK_CHUNKS``) at least ``CRACKLE_PER_MINUTE`` times a minute (and ``MIN_CLICKS`` times in all)."""
    edges = np.diff(np.concatenate([[0], short.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    side = CLICK_QUIET_CHUNKS
    quiet = np.concatenate([np.ones(side, dtype=bool), ~loud, np.ones(side, dtype=bool)])
    counted = np.concatenate([[0], np.cumsum(quiet)])  # the quiet chunks before each padded position
    before = counted[starts + side] - counted[starts] == side
    after = counted[ends + 2 * side] - counted[ends + side] == side
    clicks = int(np.count_nonzero(before & after))
    minutes = np.count_nonzero(~loud) * CHUNK_S / 60.0
    return clicks >= MIN_CLICKS and clicks >= CRACKLE_PER_MINUTE * minutes


def _unquiet_pauses(energy_db: np.ndarray | None, length: int, rules: SpeechRules) -> Callable[[float, float], bool]:
    """Whether the pause between two regions (start_s, end_s) lacks ``min_gap_s`` of quiet chunks in a row (within
    ``pause_margin_db`` of the noise floor; NaN energies count as quiet), counting the quiet chunks next to it that
    the model still (or already) heard as speech: always False when the rule is off."""
    if energy_db is None or rules.pause_margin_db <= 0:
        return lambda start_s, end_s: False
    energy = _per_chunk(np.asarray(energy_db), length)
    if not np.isfinite(energy).any():
        return lambda start_s, end_s: False
    loud = energy >= _noise_floor_db(energy) + rules.pause_margin_db
    short = loud & (_run_lengths(loud) <= CLICK_CHUNKS)
    quiet = ~loud | short if _crackles(loud, short) else ~loud  # on a crackling line, clicks do not end a pause
    needed = max(1, round(rules.min_gap_s / CHUNK_S))

    def unquiet(start_s: float, end_s: float) -> bool:
        low, high = round(start_s / CHUNK_S), round(end_s / CHUNK_S)
        # the model lingers after speech stops and reacts late to its start: the quiet it covers is part of the
        # pause (looking further than ``needed`` chunks into a region could not change the answer)
        reach_low, reach_high = max(0, low - needed), min(length, high + needed)
        while low > reach_low and quiet[low - 1]:
            low -= 1
        while high < reach_high and quiet[high]:
            high += 1
        pause = quiet[low:high]
        if len(pause) < needed:
            return True
        runs = np.convolve(pause.astype(np.int32), np.ones(needed, dtype=np.int32), mode="valid")
        return not bool((runs >= needed).any())

    return unquiet


def _above_speechlike_background(probabilities: np.ndarray, energy_db: np.ndarray, rules: SpeechRules) -> np.ndarray:
    """When the model hears the noise floor (the 10th-percentile chunk energy) as speech, the chunks less than
    ``background_margin_db`` above that floor are held just under the threshold (they may go on with a region, never
    start one) if they stand ``background_release_db`` above it, else set to 0; otherwise the probabilities are as
    they are. Chunks of unknown (NaN, or missing) energy are never above the floor."""
    probabilities = np.asarray(probabilities, dtype=np.float32)
    energy = _per_chunk(energy_db, len(probabilities))
    known = np.isfinite(energy)
    if not known.any():
        return probabilities
    floor = _noise_floor_db(energy)
    if not _speechlike_background(probabilities, energy, floor):
        return probabilities
    starting = known & (energy >= floor + rules.background_margin_db)
    release_db = rules.background_margin_db if rules.background_release_db is None else rules.background_release_db
    going_on = known & (energy >= floor + release_db)
    below_threshold = np.minimum(probabilities, np.nextafter(np.float32(rules.threshold), np.float32(0)))
    return np.where(starting, probabilities, np.where(going_on, below_threshold, 0.0)).astype(np.float32)


def _speechlike_background(probabilities: np.ndarray, energy_db: np.ndarray, floor_db: float) -> bool:
    """Whether a stream's background sounds like speech (``SPEECHLIKE_BACKGROUND``, ``BABBLE_SPREAD_DB``,
    ``BABBLE_LOCAL_SPREAD_DB``)."""
    background = np.isfinite(energy_db) & (energy_db < floor_db + 3.0)
    if float(np.median(probabilities[background])) >= SPEECHLIKE_BACKGROUND:
        return True
    powers = np.where(energy_db > _decibels(DIGITAL_SILENCE), 10.0 ** (energy_db / 10.0), np.nan)
    smoothed = np.convolve(powers, np.ones(SPREAD_CHUNKS) / SPREAD_CHUNKS, mode="valid")
    sounding = smoothed[np.isfinite(smoothed)]
    if len(sounding) == 0:
        return False
    low, floor = 10.0 * np.log10(np.percentile(sounding, [1, 10]))
    if floor - low < BABBLE_SPREAD_DB:
        return False
    sounding_db = 10.0 * np.log10(sounding)
    local_floor = percentile_filter(sounding_db, 10, size=LOCAL_SPREAD_CHUNKS, mode="nearest")
    local_low = percentile_filter(sounding_db, 1, size=LOCAL_SPREAD_CHUNKS, mode="nearest")
    return bool(np.median(local_floor - local_low) >= BABBLE_LOCAL_SPREAD_DB)


def _loud_enough(
    regions: list[tuple[float, float]], probabilities: np.ndarray, energy_db: np.ndarray, rules: SpeechRules
) -> list[tuple[float, float]]:
    """The regions whose loud chunks come within ``quiet_region_db`` of the stream's speech level (``SpeechRules``);
    regions of unknown (NaN) energy are kept."""
    energy = energy_db[: len(probabilities)]
    confident = energy[(probabilities[: len(energy)] >= rules.threshold) & np.isfinite(energy)]
    if len(confident) == 0:
        return regions
    speech_db = float(np.percentile(confident, 90))
    kept = []
    for start_s, end_s in regions:
        region = energy[round(start_s / CHUNK_S) : round(end_s / CHUNK_S)]
        region = region[np.isfinite(region)]
        if len(region) == 0 or float(np.percentile(region, 90)) >= speech_db - rules.quiet_region_db:
            kept.append((start_s, end_s))
    return kept


# The background next to an edge, when louder than the stream's floor: automatic gain control lifts the line noise in
# every pause (by up to its maximum gain) above the floor the quiet right after speech sets, and an edge must not move
# out over that lifted noise. Judged on the chunks outside every region within LOCAL_FLOOR_S beyond the edge's reach
# (their 10th percentile, at least LOCAL_FLOOR_CHUNKS of them), and used only when it stands LOCAL_FLOOR_RISE_DB over
# the stream's floor, so that steady noise keeps the stream's floor (LOG.md "Session 37").
LOCAL_FLOOR_S = 1.0
LOCAL_FLOOR_CHUNKS = 8
LOCAL_FLOOR_RISE_DB = 3.0


def _extended_edges(
    regions: list[tuple[float, float]], energy_db: np.ndarray, rules: SpeechRules
) -> list[tuple[float, float]]:
    """Regions (chunk-aligned seconds) whose edges move out over chunks ``edge_margin_db`` above the noise floor,
    or above the background next to the edge where that is louder (``LOCAL_FLOOR_S``); NaN energies never count
    as loud."""
    floor = _noise_floor_db(energy_db)
    reach, gap = round(rules.edge_extension_s / CHUNK_S), round(rules.min_gap_s / CHUNK_S)
    bounds = [(round(s / CHUNK_S), round(e / CHUNK_S)) for s, e in regions]
    outside = np.ones(len(energy_db), dtype=bool)
    for first, stop in bounds:
        outside[first:stop] = False
    beyond = reach + round(LOCAL_FLOOR_S / CHUNK_S)

    def loud_level(low: int, high: int) -> float:
        """The energy a chunk needs to be loud, judged against the background in chunks ``low`` to ``high``."""
        low, high = max(0, low), max(0, high)
        background = energy_db[low:high][outside[low:high]]
        background = background[np.isfinite(background)]
        local = float(np.percentile(background, 10)) if len(background) >= LOCAL_FLOOR_CHUNKS else floor
        return (local if local >= floor + LOCAL_FLOOR_RISE_DB else floor) + rules.edge_margin_db

    extended: list[tuple[int, int]] = []
    for index, (first, stop) in enumerate(bounds):
        low = max(0, first - reach, extended[-1][1] + gap if extended else 0)
        following = bounds[index + 1][0] - gap if index + 1 < len(bounds) else len(energy_db)
        high = min(len(energy_db), stop + reach, following)
        loud_before, loud_after = loud_level(first - beyond, first), loud_level(stop, stop + beyond)
        while first > low and energy_db[first - 1] >= loud_before:
            first -= 1
        while stop < high and energy_db[stop] >= loud_after:
            stop += 1
        extended.append((first, stop))
    return [(first * CHUNK_S, stop * CHUNK_S) for first, stop in extended]


def open_sound_file(source: str | Path | bytes) -> sf.SoundFile:
    """The recording opened by libsndfile (seekable: ``audio.decoding.seekable`` makes it so), or ``AudioError``."""
    try:
        return sf.SoundFile(io.BytesIO(source) if isinstance(source, bytes | bytearray) else source)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        raise AudioError(UNDECODABLE) from None


def _streams(block: np.ndarray, per_channel: bool, signs: np.ndarray | None = None) -> list[np.ndarray]:
    """The channels of a block, or their mix (each channel times its sign: the recording's ``mix_polarity``)."""
    return [block[:, c] for c in range(block.shape[1])] if per_channel else [mix_down(block, signs)]


def _chunk_powers(samples: np.ndarray, chunks: int, size: int = CHUNK) -> np.ndarray:
    """Mean square of each of the first ``chunks`` chunks of ``size`` samples (float64)."""
    frames = samples[: chunks * size].reshape(chunks, size)
    return np.mean(np.square(frames, dtype=np.float64), axis=1)


def _chunk_energy_db(samples: np.ndarray, chunks: int) -> np.ndarray:
    return 10.0 * np.log10(_chunk_powers(samples, chunks) + 1e-12)


def noise_chunks(energy_db: np.ndarray, margin_db: float, most: int) -> np.ndarray:
    """Indices of a stream's chunks within ``margin_db`` of its noise floor (the line's noise alone, not a long run
    of digital silence), the first ``most`` of them in time; none when every energy is unknown."""
    known = np.isfinite(energy_db)
    if not known.any():
        return np.array([], dtype=int)
    long = _long_silences(energy_db)
    floor = _noise_floor_db(energy_db, long)
    return np.flatnonzero(known & ~long & (energy_db < floor + margin_db))[:most]


def _noise_floor_db(energy_db: np.ndarray, long: np.ndarray | None = None) -> float:
    """A stream's noise floor: the 10th percentile of its chunk energies (dB) that are known (not NaN), leaving out
    runs of digital silence of ``LONG_SILENCE_S`` or more (``long``, by default ``_long_silences``; all of them when
    nothing else is left)."""
    kept = energy_db[~(_long_silences(energy_db) if long is None else long)]
    return float(np.nanpercentile(kept if np.isfinite(kept).any() else energy_db, 10))


# Digital silence (exact zeros) this long is not the line: a recorder writing zeros before a call connects or through
# a muted hold (ten minutes of them before a call made the floor -120 dB, no pause was quiet against it, and 1 % of
# the utterances were found as one segment). Shorter runs are: VoIP silence suppression writes zeros in every pause,
# and against any other floor its soft onsets and endings no longer stood out (found 97-99 % -> 75-88 %).
LONG_SILENCE_S = 10.0
IDLE_DB = -66.0  # a codec's idle pattern is far under any line's noise (A-law's: -72 dBFS)


def _long_silences(energy_db: np.ndarray) -> np.ndarray:
    """Chunks in runs of digital silence of at least ``LONG_SILENCE_S``: exact zeros, or a codec's idle pattern
    (chunks of one and the same energy under ``IDLE_DB``: A-law has no code for zero, and its silence decodes to
    +8 steps of 16 bits, -72 dBFS)."""
    repeated = np.zeros(len(energy_db), dtype=bool)
    same = np.diff(energy_db) == 0  # NaN: never the same
    repeated[1:] |= same
    repeated[:-1] |= same
    silent = (energy_db <= _decibels(DIGITAL_SILENCE)) | ((energy_db <= IDLE_DB) & repeated)  # NaN: not silent
    return _run_lengths(silent) >= round(LONG_SILENCE_S / CHUNK_S)


def _spread_windows(
    audio: sf.SoundFile, windows: int, window_s: float, faults: LineFaults | None = None
) -> Iterator[np.ndarray]:
    """``windows`` windows of ``window_s`` spread evenly over the recording (all of it when it is shorter), as
    frames x channels float32: a look at a recording whose cost does not grow with its length. With ``faults``,
    each window less them (read from its ``faults.preroll`` earlier, for the notches to settle)."""
    length = max(1, int(window_s * audio.samplerate))
    if audio.frames <= windows * length:
        starts: Sequence[int] = range(0, max(audio.frames, 1), length)
    else:
        starts = np.linspace(0, audio.frames - length, windows).astype(int).tolist()
    preroll = 0 if faults is None else faults.preroll(audio.samplerate)
    for start in starts:
        first = max(0, int(start) - preroll)
        audio.seek(first)
        data = audio.read(int(start) - first + length, dtype="float32", always_2d=True)
        if faults is not None:
            data = faults.cleaner(audio.samplerate)(data)[int(start) - first :]
        if len(data):
            yield data


@dataclass(frozen=True)
class StreamLevel:
    """A stream's active level and noise floor (dBFS): the 90th and the 10th percentile of its 32 ms chunk energies
    that are not digital silence (a recorder may write exact zeros while a channel is muted, or for minutes before a
    call connects); and how fast its sound can fall (``quality.decay_db_per_s``, the median over the windows that
    tell it, None when fewer than ``MIN_DECAY_WINDOWS`` do): a room's reverberation holds every stop up."""

    active_db: float
    floor_db: float
    decay_db_per_s: float | None = None


MIN_DECAY_WINDOWS = 5


def stream_levels(
    audio: sf.SoundFile, per_channel: bool, signs: np.ndarray | None = None, faults: LineFaults | None = None
) -> list[StreamLevel]:
    """Levels of each stream (the channels less their line ``faults``, by default ``recording_faults``, or their
    mix with ``signs``, by default ``mix_polarity``), from the chunk energies in spread windows
    (``_spread_windows``); -inf for digital silence and for less than one chunk."""
    if not per_channel and signs is None:
        signs = mix_polarity(audio)
    faults = recording_faults(audio) if faults is None else faults
    energies: list[list[np.ndarray]] = [[] for _ in range(audio.channels if per_channel else 1)]
    decays: list[list[float]] = [[] for _ in energies]
    frame = max(1, round(CHUNK_S * audio.samplerate))
    for data in _spread_windows(audio, SPREAD_WINDOWS, SPREAD_WINDOW_S, faults):
        chunks = len(data) // frame
        if not chunks:
            continue
        for index, stream in enumerate(_streams(data, per_channel, signs)):
            framed = stream[: chunks * frame].reshape(chunks, frame)
            idle = np.ptp(framed, axis=1) == 0  # constant: a recorder's or a codec's silence, as digital silence
            energies[index].append(np.where(idle, 0.0, np.mean(np.square(framed, dtype=np.float64), axis=1)))
            decay = decay_db_per_s(stream, audio.samplerate) if np.all(np.isfinite(stream)) else None
            if decay is not None:
                decays[index].append(decay)
    levels = []
    for parts, stream_decays in zip(energies, decays, strict=True):
        if not parts:  # shorter than one chunk
            levels.append(StreamLevel(float("-inf"), float("-inf")))
            continue
        powers = np.concatenate(parts)
        if not np.all(np.isfinite(powers)):
            raise AudioError("audio contains NaN or infinite samples")
        sounding = powers[powers > DIGITAL_SILENCE]
        active = float(np.percentile(sounding if len(sounding) else powers, 90))
        floor = float(np.percentile(sounding, 10)) if len(sounding) else 0.0
        decay = float(np.median(stream_decays)) if len(stream_decays) >= MIN_DECAY_WINDOWS else None
        levels.append(StreamLevel(_decibels(active), _decibels(floor), decay))
    return levels


def _decibels(power: float) -> float:
    return 10.0 * float(np.log10(power)) if power > 0 else float("-inf")


def detector_gain(level_db: float) -> float:
    """The gain that brings a stream's active level to ``DETECTOR_LEVEL_DBFS`` (at most +40 dB, at least -20 dB)."""
    if not np.isfinite(level_db):
        return 1.0
    return float(10.0 ** (np.clip(DETECTOR_LEVEL_DBFS - level_db, -20.0, 40.0) / 20.0))


def shared_signal_db(source: str | Path | bytes) -> float:
    """How far (dB) the channels of a recording stand from carrying one signal: the least power share, over the
    channels after the first, that a gain times the first channel leaves unexplained (``10 log10(1 - r²)``, ``r``
    their correlation). About -300 for copies of one signal, 0 for unrelated channels (or silence) and mono files.

    Dual-mono files (the same mix written to both channels) and low-bitrate stereo codecs that merge the channels
    (Opus at 16 kb/s encodes stereo as mono) come out far below -20 dB; two voices on their own channels, each
    leaking into the other 20 dB down, near -0.2 dB. Read from windows spread over the recording
    (``_spread_windows``), so the cost does not grow with the call's length.
    """
    with open_sound_file(source) as audio:
        if audio.channels < 2:
            return 0.0
        products = _channel_products(audio)
    unexplained = []
    for cross, power_first, power in products[1:]:
        if power_first <= 0 or power <= 0:
            return 0.0
        correlation_squared = min(1.0, cross * cross / (power_first * power))
        unexplained.append(10.0 * np.log10(max(1.0 - correlation_squared, 1e-30)))
    return float(max(unexplained))


def recording_faults(audio: sf.SoundFile) -> LineFaults:
    """Each channel's DC offset and mains hum (``ser.inference.line``: none where not worth taking out), measured
    in spread windows (``_spread_windows``)."""
    windows = list(_spread_windows(audio, SPREAD_WINDOWS, SPREAD_WINDOW_S))
    return line_faults(windows, audio.samplerate) if windows else LineFaults.none(audio.channels)


def mix_polarity(audio: sf.SoundFile) -> np.ndarray:
    """The sign (+1 or -1) each channel of a recording takes in its mix (``audio.mixing.polarity``: a channel in
    opposite polarity to the first is flipped, so that it does not cancel it), from spread windows."""
    if audio.channels < 2:
        return np.ones(audio.channels, dtype=np.float32)
    products = _channel_products(audio)
    return polarity(products[:, 0], float(products[0, 1]), products[:, 2])


def _channel_products(audio: sf.SoundFile) -> np.ndarray:
    """Per channel (rows): sum x0*xc, sum x0², sum xc² over spread windows, each window's mean removed."""
    products = np.zeros((audio.channels, 3))
    for window in _spread_windows(audio, SPREAD_WINDOWS, SPREAD_WINDOW_S):
        data = window.astype(np.float64)
        data -= data.mean(axis=0, keepdims=True)
        first = data[:, 0]
        products[:, 0] += first @ data
        products[:, 1] += first @ first
        products[:, 2] += np.einsum("ij,ij->j", data, data)
    if not np.all(np.isfinite(products)):
        raise AudioError("audio contains NaN or infinite samples")
    return products


def hears_speech(
    signal: np.ndarray, sr: int, threshold: float = 0.3, enough_s: float = 0.3, block_s: float = 0.256
) -> bool:
    """Whether the detector hears at least ``enough_s`` of speech (chunks at or above ``threshold``) in a mono
    utterance sampled at ``sr``, heard at 16 kHz and ``DETECTOR_LEVEL_DBFS`` without its line faults (a DC offset,
    hum: ``line.cleaned_signal``). It listens block by block and stops as soon as it has heard enough, so an
    utterance that starts with speech costs a few chunks, not all of it.

    The defaults were chosen on the training speakers' recordings through every channel condition against music,
    tones, DTMF, hum and noise clips (BENCHMARKS.md, "Speech in an utterance"): 7 of 840 clips pass, 0.6 % of the
    utterances do not (6.5 % of hands-free ones: the detector misses reverberant speech). So a warning, not a
    verdict.
    """
    samples = np.asarray(signal, dtype=np.float32)
    samples = cleaned_signal(samples, sr)
    if sr != SAMPLE_RATE:
        samples = soxr.resample(samples, sr, SAMPLE_RATE, quality="HQ").astype(np.float32)
    chunks = len(samples) // CHUNK
    if chunks == 0:
        return False
    samples = samples[: chunks * CHUNK]
    level_db = float(np.percentile(_chunk_energy_db(samples, chunks), 90))
    samples = samples * np.float32(detector_gain(level_db))
    needed, heard = max(1, round(enough_s / CHUNK_S)), 0
    detector, step = VoiceActivity(), max(1, round(block_s / CHUNK_S)) * CHUNK
    for start in range(0, len(samples), step):
        heard += int(np.count_nonzero(detector.feed(samples[start : start + step]) >= threshold))
        if heard >= needed:
            return True
    return False


def _dereverb_for(level: StreamLevel, dereverb: Dereverb | None) -> Dereverb | None:
    """``dereverb`` for a stream that sounds reverberant (its decay rate under ``dereverb.below_db_per_s``), else
    None: a dry stream reaches the detector as it is."""
    if dereverb is None or dereverb.rt60_s <= 0 or level.decay_db_per_s is None:
        return None
    return dereverb if level.decay_db_per_s < dereverb.below_db_per_s else None


class _DetectorInput:
    """One stream on its way to the detector: resampled to 16 kHz, cut into whole chunks, and (as ``dereverb``
    says) with its late reverberation suppressed, each chunk beside the energy of the same samples as recorded."""

    def __init__(self, sample_rate: int, dereverb: Dereverb | None) -> None:
        self._resampler = soxr.ResampleStream(sample_rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        self._suppressor = None if dereverb is None else LateReverbSuppressor(dereverb)  # ``_dereverb_for``'s choice
        self._recorded = np.zeros(0, dtype=np.float32)  # resampled, not yet cut into chunks
        self._heard = np.zeros(0, dtype=np.float32)  # the same samples as the detector hears them

    def chunks(self, stream: np.ndarray, last: bool) -> tuple[np.ndarray, np.ndarray]:
        """The stream's next samples: the whole chunks now complete (chunks x CHUNK) and their energies (dB)."""
        samples = self._resampler.resample_chunk(stream, last=last)
        self._recorded = np.concatenate([self._recorded, samples])
        heard = samples if self._suppressor is None else self._suppressor.process(samples, last)
        self._heard = np.concatenate([self._heard, heard])
        count = len(self._heard) // CHUNK
        whole, recorded = self._heard[: count * CHUNK], self._recorded[: count * CHUNK]
        self._heard, self._recorded = self._heard[count * CHUNK :], self._recorded[count * CHUNK :]
        return whole.reshape(count, CHUNK), _chunk_energy_db(recorded, count)


def stream_activity(
    source: str | Path | bytes,
    per_channel: bool,
    block_s: float,
    streams: list[int] | None = None,
    gate: DetectorGate | None = None,
    signs: np.ndarray | None = None,
    dereverb: Dereverb | None = None,
    faults: LineFaults | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Speech probability and energy (dB) of every 32 ms chunk of each stream (the channels, or their mix), block
    by block; ``streams`` picks some of them (so that threads can take one channel each). The detector
    hears each stream at ``DETECTOR_LEVEL_DBFS`` (with its late reverberation suppressed as ``dereverb`` says; the
    energies are the recording's) and listens as ``gate`` says (by default, to everything); a mix takes the
    channels with ``signs`` (by default the recording's ``mix_polarity``), each channel less its line ``faults`` (by
    default the recording's ``recording_faults``)."""
    gate = gate or DetectorGate()
    with open_sound_file(source) as audio:
        n_streams = audio.channels if per_channel else 1
        wanted = list(range(n_streams)) if streams is None else streams
        signs = None if per_channel else (mix_polarity(audio) if signs is None else signs)
        faults = recording_faults(audio) if faults is None else faults
        levels = stream_levels(audio, per_channel, signs, faults)
        detectors = {index: GatedVoiceActivity(levels[index].floor_db, gate) for index in wanted}
        gains = {index: np.float32(detector_gain(levels[index].active_db)) for index in wanted}
        inputs = {index: _DetectorInput(audio.samplerate, _dereverb_for(levels[index], dereverb)) for index in wanted}
        audio.seek(0)
        cleaner = faults.cleaner(audio.samplerate)
        energies: dict[int, list[np.ndarray]] = {index: [] for index in wanted}
        blocksize = max(1, int(block_s * audio.samplerate))
        blocks = audio.blocks(blocksize=blocksize, dtype="float32", always_2d=True, fill_value=None)
        for position, data in enumerate(blocks):
            last = (position + 1) * blocksize >= audio.frames
            mixed = _streams(cleaner(data), per_channel, signs)
            for index in wanted:
                stream = mixed[index]
                if not np.all(np.isfinite(stream)):
                    raise AudioError("audio contains NaN or infinite samples")
                heard, energy_db = inputs[index].chunks(stream, last)
                detectors[index].feed(heard * gains[index], energy_db)
                energies[index].append(energy_db)
    chunk_energies = [np.concatenate(energies[i]) if energies[i] else np.zeros(0) for i in wanted]  # no blocks: empty
    return [detectors[i].probabilities() for i in wanted], chunk_energies
