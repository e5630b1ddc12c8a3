"""Call recordings: who speaks when (customer or agent), an emotion per utterance, and a call summary.

1. **Speech** (first pass, block by block; ``ser.inference.speech``): every stream is resampled to 16 kHz and run
   through Silero VAD (``ser.inference.vad``). A stereo call is analysed channel by channel (the customer's channel is
   ``customer_channel``, or with ``auto`` the channel the first-speaker rule below gives:
   ``ser.inference.channel_roles``); a mono call, or a stereo call mixed down, is one stream. On stereo calls a chunk
   only counts as speech on the channel where it is loud: a voice that leaks into the other channel ``crosstalk_db``
   quieter is not a second speaker, nor is louder leakage (line echo, acoustic coupling) whose energy follows the
   other channel's, quieter (``leak_correlation``).
2. **Emotions** (second pass, one segment at a time): each segment, with a little context, goes through the
   predictor's decode → features → model path, the same as ``/pred``.
3. **Roles**: by channel for stereo; for mono, the segments' voice-encoder embeddings are clustered into two
   speakers (``ser.inference.diarisation``; the encoder hears each segment with the line's steady noise gated out,
   its profile taken from the call's quietest chunks: ``denoise_voices``) and whoever speaks first is
   ``first_speaker`` (the agent by default: agents answer the phone with a greeting). Segments are diarised in
   pieces cut at their short quiet gaps (``ser.inference.turns``: the other party often answers within 0.1-0.3 s),
   consecutive pieces with one voice joined again, before the emotions (step 2) are classified turn by turn. A
   stereo file whose
   channels carry one signal (dual mono, or a low-bitrate stereo codec that merged them) is treated as mono. A mono
   file that holds one side of the call only (recorders that write each leg to its own file) is not diarised:
   ``leg`` names its role, and every segment is that role's. A call whose two sides are in two files is joined
   into one stereo recording first (``analyze_legs``).

Memory stays bounded however long the call: audio is read in blocks, a few segments are in flight at a time, and
what is kept per call is one float per 32 ms and the per-segment results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import librosa
import numpy as np
import soundfile as sf
from tqdm import tqdm

from ser.audio.decoding import AudioError, seekable
from ser.audio.mixing import mix_down
from ser.features import voice_encoder
from ser.features.extractor import FeatureConfig
from ser.inference import vad, voice_changes
from ser.inference.analysis_config import AnalysisConfig
from ser.inference.channel_roles import customer_channel
from ser.inference.denoise import NoiseProfile
from ser.inference.diarisation import assign_speakers, project
from ser.inference.legs import joined_legs, labelled_as_legs, legs_config
from ser.inference.ordered_pool import ordered_map
from ser.inference.predictor import Predictor
from ser.inference.quality import role_audio
from ser.inference.segments import segment_features, voice_pieces
from ser.inference.speech import Listening, Segment, Speech, classification_windows, segment
from ser.inference.summary import ROLES, call_summary, satisfaction
from ser.inference.voice_changes import VoiceChange


class _Bar(tqdm):
    """A progress bar without tqdm's monitor thread, so that feature workers can still be forked (``ordered_pool``)."""

    monitor_interval = 0


def _line_noise_profile(
    audio: sf.SoundFile, chunk_starts_s: tuple[float, ...], sample_rate: int, plan: Listening
) -> NoiseProfile | None:
    """The noise profile of a mono call's line, from its chunks of noise alone; None when there are too few."""
    pieces = [_segment_signal(audio, s, s + vad.CHUNK_S, 0, plan, sample_rate) for s in chunk_starts_s]
    return NoiseProfile.of(np.concatenate(pieces), sample_rate) if pieces else None


def _segment_signal(
    audio: sf.SoundFile, start_s: float, end_s: float, channel: int, plan: Listening, target_sr: int
) -> np.ndarray:
    """Samples of ``channel``, or of the channels mixed with the signs ``plan.mix`` (``vad.mix_polarity``), less
    their line faults (``plan.faults``: read from the notches' preroll earlier), at ``target_sr``."""
    start = int(start_s * audio.samplerate)
    first = max(0, start - plan.faults.preroll(audio.samplerate))
    audio.seek(first)
    data = audio.read(start - first + int((end_s - start_s) * audio.samplerate), dtype="float32", always_2d=True)
    data = plan.faults.cleaner(audio.samplerate)(data)[start - first :]
    signal = data[:, channel] if plan.mix is None else mix_down(data, plan.mix)
    if audio.samplerate != target_sr:
        signal = librosa.resample(signal, orig_sr=audio.samplerate, target_sr=target_sr, res_type="soxr_hq")
    return signal


def _per_window(
    audio: sf.SoundFile,
    segments: list[Segment],
    windows: dict[Segment, tuple[float, float]],
    plan: Listening,
    config: FeatureConfig,
    workers: int,
    bar: tqdm,
    work: Callable[..., Any],
    *args: Any,
) -> Iterator[tuple[Segment, Any]]:
    """Each usable segment (its window at least ``min_samples`` long) with ``work(signal, sample_rate, *args)`` of
    its window, in order, read as ``plan`` says (``_segment_signal``).

    Windows are read lazily, and with ``workers`` > 1 a pool works through all of them without waiting between
    batches (``ordered_pool``: processes forked from this one, which inherit its warm encoders, or threads); at most
    ``4 * workers`` windows are in flight, so memory stays bounded however long the call.
    """
    usable: list[Segment] = []  # in submission order, which is the order results come back in
    sr = config.sample_rate

    def jobs() -> Iterator[tuple[Any, ...]]:
        for seg in segments:
            start, end = windows[seg]
            signal = _segment_signal(audio, start, end, seg.channel, plan, sr)
            bar.update(1)
            if signal.size >= config.min_samples:
                usable.append(seg)
                yield signal, sr, *args

    for index, output in enumerate(ordered_map(work, jobs(), workers)):
        yield usable[index], output


def _predicted(
    predictor: Predictor, outputs: list[tuple[Segment, tuple[np.ndarray, Any]]]
) -> list[tuple[Segment, dict[str, Any], Any]]:
    """Segments with the model's answer for their feature vectors (one model call), and their audio measures."""
    if not outputs:
        return []
    answers = predictor.predict_features(np.vstack([vector for _, (vector, _) in outputs]))
    return [(seg, answer, heard) for (seg, (_, heard)), answer in zip(outputs, answers, strict=True)]


def _turns(pieces: list[tuple[Segment, int]], speakers: list[int], longest_s: float) -> tuple[list[Segment], list[int]]:
    """Consecutive pieces (each with the number of the segment it was cut from) given the same voice joined into
    one segment again: the pieces of one segment, and pieces of two segments that touch (a region cut at
    ``max_segment_s``, not a pause) while the whole stays within ``longest_s``. Each joined segment is then
    classified from its own audio, as if it had never been cut."""
    joined: list[tuple[Segment, int]] = []
    joined_speakers: list[int] = []
    for (seg, parent), speaker in zip(pieces, speakers, strict=True):
        if joined and joined_speakers[-1] == speaker:
            last, last_parent = joined[-1]
            touching = abs(last.end_s - seg.start_s) < 1e-6
            if touching and (last_parent == parent or seg.end_s - last.start_s <= longest_s):
                joined[-1] = (Segment(last.start_s, seg.end_s, seg.channel), parent)
                continue
        joined.append((seg, parent))
        joined_speakers.append(speaker)
    return [seg for seg, _ in joined], joined_speakers


class _Piece(NamedTuple):
    """A diarised piece of a segment, with what its voice was heard as."""

    segment: Segment
    number: int  # of the segment it was cut from
    embedding: np.ndarray
    window_embeddings: np.ndarray  # (windows, HIDDEN): none unless ``voice_changes`` looks inside the piece
    heard_from_s: float  # where the audio its embeddings heard starts
    samples: int  # how long that audio is


def _who_speaks(
    audio: sf.SoundFile,
    speech: Speech,
    predictor: Predictor,
    config: AnalysisConfig,
    workers: int,
    bar: tqdm,
) -> tuple[list[Segment], list[int]]:
    """A mono call's segments as turns (cut where the voice changes, ``ser.inference.turns``) and the speaker (0 or
    1, 0 speaking first) of each: the voice embeddings of their pieces, with the line's steady noise gated out
    (``denoise_voices``), clustered into two voices."""
    features, plan = predictor.feature_config, speech.plan
    line_noise = None
    if config.denoise_voices:
        line_noise = _line_noise_profile(audio, speech.line_noise_s, features.sample_rate, plan)
    windows = classification_windows(speech.segments, speech.plan.duration, config.context_s)
    split, change, sr = config.turn_split, config.voice_change, features.sample_rate
    voices: list[_Piece] = []
    outputs = _per_window(
        audio, speech.segments, windows, plan, features, workers, bar, voice_pieces, line_noise, split, change
    )
    for number, (seg, parts) in enumerate(outputs):
        window_start = windows[seg][0]
        for index, (first, last, embedding, window_embeddings) in enumerate(parts):
            start_s = seg.start_s if index == 0 else round(window_start + first / sr, 3)
            end_s = seg.end_s if index == len(parts) - 1 else round(window_start + last / sr, 3)
            piece = seg if len(parts) == 1 else Segment(start_s, end_s, seg.channel)
            voices.append(_Piece(piece, number, embedding, window_embeddings, window_start + first / sr, last - first))
    if not voices:
        return [], []
    durations = np.array([v.segment.end_s - v.segment.start_s for v in voices])
    embeddings = np.array([v.embedding for v in voices]).reshape(len(voices), voice_encoder.HIDDEN)
    speakers = assign_speakers(embeddings, durations, predictor.voice_space)
    pieces = [(v.segment, v.number) for v in voices]
    if change is not None and len(voices) > 1:
        both = voice_changes.centroids(project(embeddings, predictor.voice_space), speakers, durations)
        pieces, speakers = _cut_at_voice_changes(voices, speakers, both, predictor.voice_space, change, sr)
    return _turns(pieces, speakers, config.max_segment_s)


def _cut_at_voice_changes(
    voices: list[_Piece],
    speakers: list[int],
    both: np.ndarray,
    voice_space: np.ndarray | None,
    change: VoiceChange,
    sr: int,
) -> tuple[list[tuple[Segment, int]], list[int]]:
    """Pieces cut where their windows' voice changes (``ser.inference.voice_changes``; ``both``: the two voices'
    centroids), each part with its voice; voice 0 is still whoever speaks first."""
    pieces: list[tuple[Segment, int]] = []
    voices_of_pieces: list[int] = []
    for (seg, number, _, window_embeddings, heard_from, samples), speaker in zip(voices, speakers, strict=True):
        runs = [(0, speaker)]
        if len(window_embeddings) > change.min_windows:
            runs = voice_changes.runs(project(window_embeddings, voice_space), speaker, both, change.min_windows)
        if len(runs) < 2:
            pieces.append((seg, number))
            voices_of_pieces.append(speaker)
            continue
        ranges = voice_changes.window_ranges(samples, sr, change)  # the windows ``voice_pieces`` heard
        inner = [
            min(max(round(heard_from + cut / sr, 3), seg.start_s), seg.end_s)
            for cut in voice_changes.cuts(ranges, runs)
        ]
        bounds = [seg.start_s, *inner, seg.end_s]
        for (_, voice), start_s, end_s in zip(runs, bounds, bounds[1:], strict=False):
            if end_s - start_s > 0:
                pieces.append((Segment(start_s, end_s, seg.channel), number))
                voices_of_pieces.append(voice)
    if voices_of_pieces[0] == 1:
        voices_of_pieces = [1 - voice for voice in voices_of_pieces]
    return pieces, voices_of_pieces


def analyze(
    source: str | Path | bytes,
    predictor: Predictor,
    config: AnalysisConfig,
    per_channel: bool = True,
    max_seconds: float = float("inf"),
    progress: bool = False,
    workers: int = 1,
) -> dict[str, Any]:
    """Timeline with roles, and the call summary, of a recording (see the module docstring).

    ``per_channel`` (the default) analyses a stereo call channel by channel; False mixes it down and separates the
    voices by diarisation, as for mono. ``workers`` > 1 detects speech on the channels in threads, warms the predictor
    up (``Predictor.warm_up``) while the detector listens, and extracts the features of several segments at once in
    forked processes or threads (``ordered_pool``; for the CLI: the API keeps one thread per request); the result
    does not depend on it.
    """
    with seekable(source, max_seconds) as readable:
        if workers > 1:  # the encoders load and compile beside the speech detection instead of after it
            with ThreadPoolExecutor(max_workers=1) as pool:
                warming = pool.submit(predictor.warm_up)
                speech = segment(readable, per_channel, config, max_seconds, workers)
                warming.result()
        else:
            speech = segment(readable, per_channel, config, max_seconds, workers)
        return analyze_speech(readable, speech, predictor, config, progress, workers)


def analyze_legs(
    customer: str | Path | bytes,
    agent: str | Path | bytes,
    predictor: Predictor,
    config: AnalysisConfig,
    max_seconds: float = float("inf"),
    progress: bool = False,
    workers: int = 1,
) -> dict[str, Any]:
    """``analyze`` of a call whose two sides are in two files (``ser.inference.legs``: joined into one stereo
    recording, read by channel; ``separation`` is ``legs``). ``customer_channel`` and ``leg`` do not apply."""
    with joined_legs(customer, agent, max_seconds) as call:
        result = analyze(call, predictor, legs_config(config), True, max_seconds, progress, workers)
    return labelled_as_legs(result)


def analyze_speech(
    source: str | Path,
    speech: Speech,
    predictor: Predictor,
    config: AnalysisConfig,
    progress: bool = False,
    workers: int = 1,
) -> dict[str, Any]:
    """The rest of ``analyze`` once ``segment`` has found the speech in ``source`` (a file libsndfile can seek in):
    emotions, roles, timeline and summary."""
    plan, segments = speech.plan, speech.segments
    duration, n_channels, by_channel = plan.duration, plan.channels, plan.per_channel
    if by_channel and config.leg is not None:
        raise AudioError(
            f"leg '{config.leg}' is for a mono recording of one side of a call; this call has {n_channels} channels,"
            " one role each (or mix them down to diarise their voices)"
        )
    customer, channel_rule = customer_channel(segments, n_channels, config) if by_channel else (None, None)
    diarised = not by_channel and config.leg is None
    results: list[tuple[Segment, dict[str, Any], Any]] = []
    batch = 8 * max(workers, 1)  # segments per model call
    bar = _Bar(total=len(segments) * (2 if diarised else 1), desc="segments", unit="segment", disable=not progress)
    with vad.open_sound_file(source) as audio, bar:
        features = predictor.feature_config
        speaker_of: dict[Segment, int] = {}
        if diarised:  # first who speaks when (in pieces where the voice may change), then the emotions
            segments, speakers = _who_speaks(audio, speech, predictor, config, workers, bar)
            speaker_of = dict(zip(segments, speakers, strict=True))
            bar.total = len(speech.segments) + len(segments)
        windows = classification_windows(segments, duration, config.context_s)
        outputs = _per_window(audio, segments, windows, plan, features, workers, bar, segment_features, features)
        pending: list[tuple[Segment, tuple[np.ndarray, Any]]] = []
        for output in outputs:
            pending.append(output)
            if len(pending) == batch:
                results += _predicted(predictor, pending)
                pending = []
        results += _predicted(predictor, pending)
    if by_channel:
        roles = ["customer" if seg.channel == customer else "agent" for seg, _, _ in results]
        speakers = [seg.channel for seg, _, _ in results]
    elif config.leg is not None:  # one side of the call recorded alone: every voice in it is that role's
        roles = [config.leg] * len(results)
        speakers = [0] * len(results)
    else:
        speakers = [speaker_of[seg] for seg, _, _ in results]
        second = ROLES[1] if config.first_speaker == ROLES[0] else ROLES[0]
        roles = [config.first_speaker if speaker == 0 else second for speaker in speakers]
    timeline = [
        {
            "start_s": seg.start_s,
            "end_s": seg.end_s,
            "role": role,
            "speaker": int(speaker),
            "emotion": answer["class"]["emotion"],
            "probabilities": answer["probabilities"],
            "satisfaction": round(satisfaction(answer["probabilities"], config.satisfaction_weights), 4),
        }
        for (seg, answer, _), role, speaker in zip(results, roles, speakers, strict=True)
    ]
    heard = [(measures, seg.end_s - seg.start_s) for seg, _, measures in results]
    audio = {role: role_audio([h for h, r in zip(heard, roles, strict=True) if r == role]) for role in ROLES}
    summary = call_summary(timeline, duration, audio, diarised)
    return {
        "duration_s": round(duration, 3),
        "channels": n_channels,
        "separation": "channels" if by_channel else "diarisation" if diarised else "leg",
        "identical_channels": plan.identical_channels,
        "customer_channel": customer,
        "customer_channel_from": channel_rule,
        "first_speaker": config.first_speaker if diarised or channel_rule == "first speaker" else None,
        "leg": config.leg,
        "model_version": predictor.version,
        "timeline": timeline,
        "summary": summary,
        "satisfaction": summary["satisfaction"],
        "satisfaction_weights": config.satisfaction_weights,
    }
