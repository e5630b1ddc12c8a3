"""Call recordings: who speaks when (customer or agent), an emotion per utterance, and a call summary.

1. **Speech** (first pass, block by block): every stream is resampled to 16 kHz and run through Silero VAD
   (``ser.inference.vad``). A stereo call is analysed channel by channel (the customer's channel is
   ``customer_channel``); a mono call, or a stereo call mixed down, is one stream. On stereo calls a chunk only
   counts as speech on the channel where it is loud: a voice that leaks into the other channel ``crosstalk_db``
   quieter is not a second speaker, nor is louder leakage (line echo, acoustic coupling) whose energy follows the
   other channel's, quieter (``leak_correlation``).
2. **Emotions** (second pass, one segment at a time): each segment, with a little context, goes through the
   predictor's decode → features → model path, the same as ``/pred``.
3. **Roles**: by channel for stereo; for mono, the segments' voice-encoder embeddings are clustered into two
   speakers (``ser.inference.diarisation``; the encoder hears each segment with the line's steady noise gated out,
   its profile taken from the call's quietest chunks: ``denoise_voices``) and whoever speaks first is
   ``first_speaker`` (the agent by default: agents answer the phone with a greeting). A stereo file whose
   channels carry one signal (dual mono, or a low-bitrate stereo codec that merged them) is treated as mono. A mono
   file that holds one side of the call only (recorders that write each leg to its own file) is not diarised:
   ``leg`` names its role, and every segment is that role's. A call whose two sides are in two files is joined
   into one stereo recording first (``analyze_legs``).

Memory stays bounded however long the call: audio is read in blocks, a few segments are in flight at a time, and
what is kept per call is one float per 32 ms and the per-segment results.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import librosa
import numpy as np
import soundfile as sf
from joblib import Parallel, delayed
from tqdm import tqdm

from ser.audio.decoding import AudioError, AudioTooLong, seekable
from ser.audio.mixing import mix_down
from ser.data import emodb
from ser.errors import ParamsError
from ser.features import voice_encoder
from ser.features.extractor import FeatureConfig
from ser.inference import vad
from ser.inference.denoise import NoiseProfile
from ser.inference.diarisation import assign_speakers
from ser.inference.legs import joined_legs
from ser.inference.predictor import Predictor
from ser.inference.quality import role_audio
from ser.inference.segments import segment_outputs
from ser.inference.summary import ROLES, call_summary, satisfaction
from ser.pipeline.params import load_params

log = logging.getLogger(__name__)

# The line's noise in a mono call: its chunks within this many dB of the noise floor, at most this much of them.
LINE_NOISE_MARGIN_DB = 3.0
LINE_NOISE_S = 4.0

# A stereo channel's region is the other channel leaking in when it stays this far below it (and follows it).
LEAK_MARGIN_DB = 3.0
LEAK_MIN_CHUNKS = 8

# Satisfaction weight of each emotion: the score of a segment is sum(p(emotion) * weight), in [-1, 1].
DEFAULT_SATISFACTION_WEIGHTS: dict[str, float] = {
    "happiness": 1.0,
    "neutral": 0.2,
    "boredom": -0.2,
    "sadness": -0.6,
    "fear": -0.6,
    "disgust": -0.9,
    "anger": -1.0,
}


@dataclass(frozen=True)
class AnalysisConfig:
    """Roles, speech detection and the satisfaction mapping; the defaults are the ``analysis:`` block of params.yaml
    (tested)."""

    customer_channel: int = 0
    first_speaker: str = "agent"
    leg: str | None = None
    vad_threshold: float = 0.7
    vad_release: float = 0.35
    min_confident_s: float = 0.5
    min_confident_share: float = 0.3
    crosstalk_db: float = 20.0
    leak_correlation: float = 0.8
    leak_lag_s: float = 0.5
    min_segment_s: float = 0.4
    max_segment_s: float = 10.0
    min_gap_s: float = 0.35
    padding_s: float = 0.05
    context_s: float = 0.1
    edge_extension_s: float = 0.5
    edge_margin_db: float = 10.0
    background_margin_db: float = 10.0
    quiet_region_db: float = 25.0
    detector_reset_s: float = 2.0
    detector_lead_s: float = 0.5
    detector_margin_db: float = 6.0
    block_s: float = 30.0
    denoise_voices: bool = True
    satisfaction_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SATISFACTION_WEIGHTS))

    def __post_init__(self) -> None:
        unknown = set(self.satisfaction_weights) - set(emodb.EMOTIONS.values())
        if unknown or any(not -1.0 <= w <= 1.0 for w in self.satisfaction_weights.values()):
            raise ParamsError("satisfaction_weights maps emotion names to weights in [-1, 1]")
        if not 0 < self.min_segment_s <= self.max_segment_s:
            raise ParamsError("analysis needs 0 < min_segment_s <= max_segment_s")
        if isinstance(self.customer_channel, bool) or not isinstance(self.customer_channel, int):
            raise ParamsError("analysis.customer_channel is a channel number (0 = left/first)")
        if not 0 <= self.customer_channel <= 7:
            raise ParamsError("analysis.customer_channel must be 0 to 7")
        if self.first_speaker not in ROLES:
            raise ParamsError(f"analysis.first_speaker must be one of {list(ROLES)}")
        if self.leg is not None and self.leg not in ROLES:
            raise ParamsError(f"analysis.leg must be null (both voices) or one of {list(ROLES)}")
        if not 0 < self.vad_release <= self.vad_threshold < 1:
            raise ParamsError("analysis needs 0 < vad_release <= vad_threshold < 1")

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> AnalysisConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in params.items() if k in known})

    @classmethod
    def from_params_file(cls, path: Path) -> AnalysisConfig:
        """The ``analysis:`` block of a params file, or the defaults when there is no such file."""
        if not path.is_file():
            return cls()
        return cls.from_params(load_params(path).get("analysis") or {})

    @property
    def detector_gate(self) -> vad.DetectorGate:
        return vad.DetectorGate(self.detector_reset_s, self.detector_lead_s, self.detector_margin_db)

    @property
    def speech_rules(self) -> vad.SpeechRules:
        return vad.SpeechRules(
            threshold=self.vad_threshold,
            release=self.vad_release,
            min_gap_s=self.min_gap_s,
            min_speech_s=self.min_segment_s,
            min_confident_s=self.min_confident_s,
            min_confident_share=self.min_confident_share,
            padding_s=self.padding_s,
            edge_extension_s=self.edge_extension_s,
            edge_margin_db=self.edge_margin_db,
            background_margin_db=self.background_margin_db,
            quiet_region_db=self.quiet_region_db,
        )


@dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    channel: int  # the stream: a channel of a stereo call, 0 for a mono (or mixed-down) one


def _all_streams(
    source: str | Path | bytes,
    n_streams: int,
    mix: np.ndarray | None,
    config: AnalysisConfig,
    workers: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and energies of every stream (streams x chunks): the channels, or their mix with the signs
    ``mix``; a thread per channel if allowed (onnxruntime releases the GIL)."""
    block_s, gate = config.block_s, config.detector_gate
    per_channel = mix is None
    if workers > 1 and n_streams > 1:
        jobs = (delayed(vad.stream_activity)(source, per_channel, block_s, [index], gate) for index in range(n_streams))
        parts = Parallel(n_jobs=min(workers, n_streams), prefer="threads")(jobs)
        probabilities = [p for part in parts for p in part[0]]
        energies = [e for part in parts for e in part[1]]
    else:
        probabilities, energies = vad.stream_activity(source, per_channel, block_s, gate=gate, signs=mix)
    length = min((len(p) for p in probabilities), default=0)
    if length == 0:
        raise AudioError("audio is too short to analyse")
    return np.vstack([p[:length] for p in probabilities]), np.vstack([e[:length] for e in energies])


def _crosstalk(energy_db: np.ndarray, crosstalk_db: float) -> np.ndarray:
    """Chunks (streams x chunks) of a channel ``crosstalk_db`` quieter than the loudest channel at that moment:
    the other voice leaking in, not a second speaker."""
    if len(energy_db) < 2:
        return np.zeros(energy_db.shape, dtype=bool)
    return energy_db < energy_db.max(axis=0, keepdims=True) - crosstalk_db


@dataclass(frozen=True)
class Speech:
    """A recording's speech segments, its duration (s) and channels, and how its voices were told apart."""

    segments: list[Segment]
    duration: float
    channels: int
    by_channel: bool  # one stream per channel (else one stream, the channels mixed)
    identical_channels: bool  # the channels carry one signal, so they were mixed even though by channel was asked
    line_noise_s: tuple[float, ...] = ()  # one stream: where its 32 ms chunks of the line's noise alone start
    mix: np.ndarray | None = None  # one stream: the sign of each channel in its mix (``vad.mix_polarity``)


def segment(
    source: str | Path | bytes,
    per_channel: bool,
    config: AnalysisConfig,
    max_seconds: float = float("inf"),
    workers: int = 1,
) -> Speech:
    """Speech segments of a recording, per channel or of the channels mixed.

    The duration is checked against ``max_seconds`` from the header, before any audio is decoded. Quiet regions are
    dropped (``quiet_region_db``) on a channel's own stream only, never in a mix of two voices. Channels that
    carry one signal (less than ``crosstalk_db`` of their power unexplained by a gain: dual mono, or a stereo codec
    that merged them) are mixed whatever ``per_channel`` says: by channel, every utterance would count twice.
    """
    with vad.open_sound_file(source) as audio:
        duration, n_channels = audio.frames / audio.samplerate, audio.channels
    if duration > max_seconds:
        raise AudioTooLong(f"audio lasts {duration:.1f} s, more than the {max_seconds:g} s allowed")
    per_channel = per_channel and n_channels > 1
    identical = per_channel and vad.shared_signal_db(source) <= -config.crosstalk_db
    if identical:
        log.info("the %d channels carry one signal: analysed as one stream (roles by diarisation)", n_channels)
        per_channel = False
    n_streams = n_channels if per_channel else 1
    mix = None
    if not per_channel:  # the channels' signs in the mix, measured once for the detector and the segments
        with vad.open_sound_file(source) as audio:
            mix = vad.mix_polarity(audio)
    probabilities, energy_db = _all_streams(source, n_streams, mix, config, workers)
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
    return Speech(ordered, duration, n_channels, per_channel, identical, line_noise, mix)


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


def _line_noise_profile(
    audio: sf.SoundFile, chunk_starts_s: tuple[float, ...], sample_rate: int, signs: np.ndarray
) -> NoiseProfile | None:
    """The noise profile of a mono call's line, from its chunks of noise alone; None when there are too few."""
    pieces = [_segment_signal(audio, s, s + vad.CHUNK_S, 0, signs, sample_rate) for s in chunk_starts_s]
    return NoiseProfile.of(np.concatenate(pieces), sample_rate) if pieces else None


def _segment_signal(
    audio: sf.SoundFile, start_s: float, end_s: float, channel: int, mix: np.ndarray | None, target_sr: int
) -> np.ndarray:
    """Samples of ``channel``, or of the channels mixed with the signs ``mix`` (``vad.mix_polarity``), at
    ``target_sr``."""
    audio.seek(int(start_s * audio.samplerate))
    data = audio.read(int((end_s - start_s) * audio.samplerate), dtype="float32", always_2d=True)
    signal = data[:, channel] if mix is None else mix_down(data, mix)
    if audio.samplerate != target_sr:
        signal = librosa.resample(signal, orig_sr=audio.samplerate, target_sr=target_sr, res_type="soxr_hq")
    return signal


def _classification_windows(
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


def _segment_outputs(
    audio: sf.SoundFile,
    segments: list[Segment],
    windows: dict[Segment, tuple[float, float]],
    mix: np.ndarray | None,
    config: FeatureConfig,
    workers: int,
    bar: tqdm,
    embed: bool,
    line_noise: NoiseProfile | None = None,
) -> Iterator[tuple[Segment, np.ndarray, Any]]:
    """Each usable segment with its feature vector and, paired, its voice embedding if ``embed`` (calls to diarise;
    ``line_noise`` gated out) and its audio's measures (``ser.inference.quality``), in order; ``mix``: the signs of
    a mixed-down call's channels (``vad.mix_polarity``), None for a call read by channel.

    Windows are read lazily, and with ``workers`` > 1 a pool of threads works through all of them without waiting
    between batches (the encoders' matrix products and compiled kernels release the GIL: 1.7x on 2 cores, and no
    process to start and warm up); at most ``4 * workers`` windows are in flight, so memory stays bounded however
    long the call.
    """
    usable: list[Segment] = []  # in submission order, which is the order results come back in

    def jobs() -> Iterator[tuple[np.ndarray, int, FeatureConfig, bool, NoiseProfile | None]]:
        for seg in segments:
            start, end = windows[seg]
            signal = _segment_signal(audio, start, end, seg.channel, mix, config.sample_rate)
            bar.update(1)
            if signal.size >= config.min_samples:
                usable.append(seg)
                yield signal, config.sample_rate, config, embed, line_noise

    if workers > 1:
        runner = Parallel(n_jobs=workers, prefer="threads", return_as="generator", pre_dispatch=4 * workers)
        outputs = runner(delayed(segment_outputs)(*job) for job in jobs())
    else:
        outputs = (segment_outputs(*job) for job in jobs())
    for index, (vector, embedding, heard) in enumerate(outputs):
        yield usable[index], vector, (embedding, heard)


def _predicted(
    predictor: Predictor, outputs: list[tuple[Segment, np.ndarray, Any]]
) -> list[tuple[Segment, dict[str, Any], Any]]:
    """Segments with the model's answer for their feature vectors (one model call), and their embeddings."""
    if not outputs:
        return []
    answers = predictor.predict_features(np.vstack([vector for _, vector, _ in outputs]))
    return [(seg, answer, embedding) for (seg, _, embedding), answer in zip(outputs, answers, strict=True)]


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
    voices by diarisation, as for mono. ``workers`` > 1 detects speech on the channels and extracts the features of
    several segments at once, in threads of this process (for the CLI; the API keeps one thread per request), and
    warms the predictor up (``Predictor.warm_up``) while the detector listens; the result does not depend on it.
    """
    with seekable(source, max_seconds) as readable:
        return _analyze(readable, predictor, config, per_channel, max_seconds, progress, workers)


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
        joined = replace(config, customer_channel=0, leg=None)
        result = analyze(call, predictor, joined, True, max_seconds, progress, workers)
    if result["separation"] == "channels":  # not when both files carry one signal (then diarised as mono)
        result.update(separation="legs", customer_channel=None)
    return result


def _analyze(
    source: str | Path | bytes,
    predictor: Predictor,
    config: AnalysisConfig,
    per_channel: bool,
    max_seconds: float,
    progress: bool,
    workers: int,
) -> dict[str, Any]:
    if workers > 1:  # the encoders load and compile beside the speech detection instead of after it (cold CLI)
        with ThreadPoolExecutor(max_workers=1) as pool:
            warming = pool.submit(predictor.warm_up)
            speech = segment(source, per_channel, config, max_seconds, workers)
            warming.result()
    else:
        speech = segment(source, per_channel, config, max_seconds, workers)
    segments, duration, n_channels, by_channel = speech.segments, speech.duration, speech.channels, speech.by_channel
    if by_channel and config.leg is not None:
        raise AudioError(
            f"leg '{config.leg}' is for a mono recording of one side of a call; this call has {n_channels} channels,"
            " one role each (or mix them down to diarise their voices)"
        )
    if by_channel and config.customer_channel >= n_channels:
        raise AudioError(f"customer_channel {config.customer_channel} does not exist: the call has {n_channels}")
    diarised = not by_channel and config.leg is None
    results: list[tuple[Segment, dict[str, Any], Any]] = []
    batch = 8 * max(workers, 1)  # segments per model call
    bar = tqdm(total=len(segments), desc="segments", unit="segment", disable=not progress)
    with vad.open_sound_file(source) as audio, bar:
        windows = _classification_windows(segments, duration, config.context_s)
        mix = speech.mix
        line_noise = None
        if diarised and config.denoise_voices:
            line_noise = _line_noise_profile(audio, speech.line_noise_s, predictor.feature_config.sample_rate, mix)
        features = predictor.feature_config
        outputs = _segment_outputs(audio, segments, windows, mix, features, workers, bar, diarised, line_noise)
        pending: list[tuple[Segment, np.ndarray, Any]] = []
        for output in outputs:
            pending.append(output)
            if len(pending) == batch:
                results += _predicted(predictor, pending)
                pending = []
        results += _predicted(predictor, pending)
    if by_channel:
        roles = ["customer" if seg.channel == config.customer_channel else "agent" for seg, _, _ in results]
        speakers = [seg.channel for seg, _, _ in results]
    elif config.leg is not None:  # one side of the call recorded alone: every voice in it is that role's
        roles = [config.leg] * len(results)
        speakers = [0] * len(results)
    else:
        durations = np.array([seg.end_s - seg.start_s for seg, _, _ in results])
        embeddings = np.array([e for _, _, (e, _) in results]).reshape(len(results), voice_encoder.HIDDEN)
        speakers = assign_speakers(embeddings, durations, predictor.voice_space)
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
    heard = [(measures, seg.end_s - seg.start_s) for seg, _, (_, measures) in results]
    audio = {role: role_audio([h for h, r in zip(heard, roles, strict=True) if r == role]) for role in ROLES}
    summary = call_summary(timeline, duration, audio, diarised)
    return {
        "duration_s": round(duration, 3),
        "channels": n_channels,
        "separation": "channels" if by_channel else "diarisation" if diarised else "leg",
        "identical_channels": speech.identical_channels,
        "customer_channel": config.customer_channel if by_channel else None,
        "first_speaker": config.first_speaker if diarised else None,
        "leg": config.leg,
        "model_version": predictor.version,
        "timeline": timeline,
        "summary": summary,
        "satisfaction": summary["satisfaction"],
        "satisfaction_weights": config.satisfaction_weights,
    }
