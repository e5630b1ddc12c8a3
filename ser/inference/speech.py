"""Where the utterances of a call are (``segment``): the first pass of call analysis (``ser.inference.calls``).

Every stream is resampled to 16 kHz and run through Silero VAD (``ser.inference.vad``), block by block. A stereo
call is read channel by channel; a chunk only counts as speech on the channel where it is loud, and a region whose
energy follows another channel's, quieter, is that channel leaking in. A mono call, or a stereo call mixed down, is
one stream. Light to import (no feature code), so a fresh process can listen while the rest loads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ser.audio.decoding import AudioError, AudioTooLong
from ser.inference import vad
from ser.inference.analysis_config import AnalysisConfig
from ser.inference.line import LineFaults
from ser.inference.ordered_pool import ordered_map

log = logging.getLogger(__name__)

# The line's noise in a mono call: its chunks within this many dB of the noise floor, at most this much of them.
LINE_NOISE_MARGIN_DB = 3.0
LINE_NOISE_S = 4.0

# A stereo channel's region is the other channel leaking in when it stays this far below it (and follows it).
LEAK_MARGIN_DB = 3.0
LEAK_MIN_CHUNKS = 8


@dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    channel: int  # the stream: a channel of a stereo call, 0 for a mono (or mixed-down) one


@dataclass(frozen=True)
class Listening:
    """What ``segment`` settles before it listens: the recording's duration (s) and channels, and its streams."""

    duration: float
    channels: int
    per_channel: bool  # one stream per channel (else one stream, the channels mixed)
    identical_channels: bool  # the channels carry one signal, so they are mixed even though by channel was asked
    mix: np.ndarray | None  # one stream: the sign of each channel in its mix (``vad.mix_polarity``)
    faults: LineFaults  # each channel's DC offset and hum, taken out wherever it is read (``vad.recording_faults``)

    @property
    def streams(self) -> int:
        return self.channels if self.per_channel else 1


@dataclass(frozen=True)
class Speech:
    """A recording's speech segments, and how it was listened to (duration, channels, streams)."""

    segments: list[Segment]
    plan: Listening
    line_noise_s: tuple[float, ...] = ()  # one stream: where its 32 ms chunks of the line's noise alone start


Activity = tuple[np.ndarray, np.ndarray]  # a stream's speech probability and energy (dB) per 32 ms chunk


def listening(
    source: str | Path | bytes, per_channel: bool, config: AnalysisConfig, max_seconds: float = float("inf")
) -> Listening:
    """How ``segment`` will listen to a recording. The duration is checked against ``max_seconds`` from the header,
    before any audio is decoded. Channels that carry one signal (less than ``crosstalk_db`` of their power
    unexplained by a gain: dual mono, or a stereo codec that merged them) are mixed whatever ``per_channel`` says:
    by channel, every utterance would count twice."""
    with vad.open_sound_file(source) as audio:
        duration, n_channels = audio.frames / audio.samplerate, audio.channels
    if duration > max_seconds:
        raise AudioTooLong(f"audio lasts {duration:.1f} s, more than the {max_seconds:g} s allowed")
    per_channel = per_channel and n_channels > 1
    identical = per_channel and vad.shared_signal_db(source) <= -config.crosstalk_db
    if identical:
        log.info("the %d channels carry one signal: analysed as one stream (roles by diarisation)", n_channels)
        per_channel = False
    with vad.open_sound_file(source) as audio:  # measured once for the detector and the segments
        faults = vad.recording_faults(audio)
        mix = None if per_channel else vad.mix_polarity(audio)  # the channels' signs in the mix
    return Listening(duration, n_channels, per_channel, identical, mix, faults)


def stream_activity(source: str | Path | bytes, plan: Listening, config: AnalysisConfig, index: int) -> Activity:
    """The detector's output on one stream of the recording (a channel, or the mix)."""
    probabilities, energies = vad.stream_activity(
        source,
        plan.per_channel,
        config.block_s,
        [index],
        config.detector_gate,
        plan.mix,
        config.detector_dereverb,
        plan.faults,
    )
    return probabilities[0], energies[0]


def all_streams(source: str | Path | bytes, plan: Listening, config: AnalysisConfig, workers: int) -> list[Activity]:
    """Every stream's activity; a thread per channel if allowed (onnxruntime releases the GIL), else one pass."""
    if workers > 1 and plan.streams > 1:
        jobs = ((source, plan, config, index) for index in range(plan.streams))
        return list(ordered_map(stream_activity, jobs, min(workers, plan.streams), processes=False))
    probabilities, energies = vad.stream_activity(
        source,
        plan.per_channel,
        config.block_s,
        gate=config.detector_gate,
        signs=plan.mix,
        dereverb=config.detector_dereverb,
        faults=plan.faults,
    )
    return list(zip(probabilities, energies, strict=True))


def _crosstalk(energy_db: np.ndarray, crosstalk_db: float) -> np.ndarray:
    """Chunks (streams x chunks) of a channel ``crosstalk_db`` quieter than the loudest channel at that moment:
    the other voice leaking in, not a second speaker."""
    if len(energy_db) < 2:
        return np.zeros(energy_db.shape, dtype=bool)
    return energy_db < energy_db.max(axis=0, keepdims=True) - crosstalk_db


def segment(
    source: str | Path | bytes,
    per_channel: bool,
    config: AnalysisConfig,
    max_seconds: float = float("inf"),
    workers: int = 1,
) -> Speech:
    """Speech segments of a recording, per channel or of the channels mixed (``listening`` says which)."""
    plan = listening(source, per_channel, config, max_seconds)
    return speech_of(plan, config, all_streams(source, plan, config, workers))


def speech_of(plan: Listening, config: AnalysisConfig, activities: list[Activity]) -> Speech:
    """The segments of a recording from its streams' activities, in stream order. Quiet regions are dropped
    (``quiet_region_db``) on a channel's own stream only, never in a mix of two voices."""
    length = min((len(probabilities) for probabilities, _ in activities), default=0)
    if length == 0:
        raise AudioError("audio is too short to analyse")
    probabilities = np.vstack([p[:length] for p, _ in activities])
    energy_db = np.vstack([e[:length] for _, e in activities])
    per_channel, duration = plan.per_channel, plan.duration
    heard_db = energy_db
    crosstalk = _crosstalk(energy_db, config.crosstalk_db)
    probabilities = np.where(crosstalk, 0.0, probabilities)
    energy_db = np.where(crosstalk, np.nan, energy_db)  # never loud enough to extend a region into
    rules = config.speech_rules
    if not per_channel:  # two voices in one stream, whose levels may differ by 25 dB and more: keep the quieter one
        rules = replace(rules, quiet_region_db=0.0)
    segments = []
    for channel, stream in enumerate(probabilities):
        for start_s, end_s in vad.speech_regions(stream, rules, energy_db[channel]):
            if per_channel and _leaked(start_s, end_s, channel, heard_db, config):
                continue
            end_s = min(end_s, duration)
            pieces = int(np.ceil((end_s - start_s) / config.max_segment_s))
            step = (end_s - start_s) / pieces
            for piece in range(pieces):
                low, high = start_s + piece * step, start_s + (piece + 1) * step
                segments.append(Segment(round(low, 3), round(high, 3), channel))
    ordered = sorted(segments, key=lambda seg: (seg.start_s, seg.channel))
    line_noise = () if per_channel else _line_noise_chunks(energy_db[0])
    return Speech(ordered, plan, line_noise)


def classification_windows(
    segments: list[Segment], duration: float, context_s: float
) -> dict[Segment, tuple[float, float]]:
    """Each segment with ``context_s`` around it, never reaching into a neighbour on the same stream.

    The feature extraction trims the window's leading and trailing silence itself, so the classifier sees the
    same samples as for the utterance on its own.
    """
    windows = {}
    for channel in {seg.channel for seg in segments}:
        same = [seg for seg in segments if seg.channel == channel]
        for position, seg in enumerate(same):
            low = same[position - 1].end_s if position else 0.0
            high = same[position + 1].start_s if position + 1 < len(same) else duration
            windows[seg] = (max(low, seg.start_s - context_s), min(high, seg.end_s + context_s))
    return windows


def _leaked(start_s: float, end_s: float, channel: int, energy_db: np.ndarray, config: AnalysisConfig) -> bool:
    """Whether a region of one channel is another channel's voice leaking in (echo of the line, acoustic coupling)
    rather than a voice of its own: its 32 ms chunk energies follow that channel's (correlation at least
    ``leak_correlation`` at some lag within ``leak_lag_s``) while staying ``LEAK_MARGIN_DB`` or more below them.
    Two voices that talk at once do not rise and fall together syllable by syllable."""
    first, stop = round(start_s / vad.CHUNK_S), round(end_s / vad.CHUNK_S)
    mine = energy_db[channel, first:stop]
    if config.leak_correlation <= 0 or len(mine) < LEAK_MIN_CHUNKS or np.std(mine) == 0:
        return False
    reach = round(config.leak_lag_s / vad.CHUNK_S)
    for other in range(len(energy_db)):
        if other == channel:
            continue
        for lag in range(-reach, reach + 1):
            low, high = first + lag, stop + lag
            if low < 0 or high > energy_db.shape[1]:
                continue
            theirs = energy_db[other, low:high]
            if np.std(theirs) == 0 or np.median(theirs - mine) < LEAK_MARGIN_DB:
                continue
            if np.corrcoef(mine, theirs)[0, 1] >= config.leak_correlation:
                return True
    return False


def _line_noise_chunks(energy_db: np.ndarray) -> tuple[float, ...]:
    most = int(LINE_NOISE_S / vad.CHUNK_S)
    return tuple(round(float(i) * vad.CHUNK_S, 3) for i in vad.noise_chunks(energy_db, LINE_NOISE_MARGIN_DB, most))
