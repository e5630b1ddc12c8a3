"""Call analysis figures on synthetic calls of EmoDB speakers (issue #15).

For each speaker pair, a call of all their recordings in turns of 1-3 utterances (the first speaker is the agent),
0.4-1.2 s apart, with hold music, ring-back and busy tones, DTMF digits and pink-noise bursts between some turns and
faint line noise (-54 dBFS) throughout; mono (both voices on one channel) and stereo (one voice per channel), as
16 kHz PCM and as 8 kHz mu-law. Printed per pair and condition: utterances found as exactly one segment within
+-0.3 s, segments inside music/tones/noise, stray segments (on no utterance of their channel; mono: on no
utterance at all), diarisation error rate (mono; 0.25 s collar), why the others were not found (no segment, split at a
pause inside, merged with a neighbour, start or end more than 0.3 s off), over all pairs the stereo calls whose
customer channel `customer_channel: auto` finds (channel 1: the agent speaks first), and for the test speakers
03 + 08 (the only ones the default model never saw) the per-segment emotion accuracy against the same recordings
cut from the same call audio (same channel, noise and codec) and classified one by one. Then the time of a
10-minute stereo call read from a 16 kHz WAV file, as `ser analyze` reads it (after one warm-up run), and of its
speech detection alone.

`--through NAME [NAME ...]` replaces the two channels by conditions of params.yaml's `channels:` block applied to
the whole call (each stereo channel on its own), e.g. `speakerphone_8k white_10db quiet_30db`, or noise at an SNR
named `<white|pink|brown|babble>_<snr>db[_ulaw_8k]` (e.g. `babble_20db`, or `babble_20db_ulaw_8k` for the noisy call
then sent through an 8 kHz mu-law line), and skips the timed call. `--mono` analyses the mono calls only (and skips
the timed call); `--no-denoise` lets the voice encoder hear their segments with the line noise
(`analysis.denoise_voices` off).

`--held-out-space` diarises each pair's mono calls in a speaker space fitted without the pair's two speakers (the
default space was fitted on every training speaker, which flatters pairs of training speakers): the honest figure for
voices the product never heard, e.g. `--mono --held-out-space --pairs 10,11 09,13` for pairs of two men or two women.

`--answer-gap 0.05 0.35` lets each turn start that soon after the other voice's last utterance (drawn in that range)
instead of 0.4-1.2 s after: the quick answers of conversation, shorter than the pauses that separate segments.
Negative values start a turn that long before the other voice's last utterance ends: `--answer-gap -0.6 -0.1`, a
caller who interrupts (the voices overlap; a turn after hold music or a tone starts that long after it instead). The
DER then counts a voice missed where two speak and one is heard.

`--gain-control MAX_DB RELEASE_S` passes each channel (mono: the mix) through a handset's automatic gain control
before the line: its level is brought to -20 dBFS with at most MAX_DB of gain, falling levels followed within
RELEASE_S, so the line noise rises by up to MAX_DB in every pause and falls when speech returns (e.g. `12 1.0`).

`--room RT60_S` first passes each channel through a reverberant room (direct-to-reverberant ratio 1, as
`speakerphone_8k`): a hands-free caller. With `--gain-control` and `--through alaw_8k`, e.g. `--room 0.5
--gain-control 12 1.0 --through alaw_8k`, a hands-free caller whose handset lifts the line noise in every pause.
(The mono call mixes the two reverberant channels before the gain control.) `--timed-only --room 0.5` times a
10-minute call in that room (its streams are dereverberated for the detector).

`--dc-offset X` adds a constant X (of full scale) to each channel (mono: to the mix) before the line: a handset's
or sound card's DC offset, e.g. `--dc-offset 0.05`.

`--hum-db X` adds mains hum at X dBFS to each channel (mono: to the mix) before the line: the mains frequency
(`--hum-hz`, 50 by default) with its 3rd and 5th harmonics 6 and 12 dB down, as a ground loop adds it, e.g.
`--hum-db -30 --hum-hz 60`.

`--clicks RATE LOW HIGH` adds a crackling line's clicks to each channel (mono: to the mix) before the line: RATE a
second on average, each a 1-4 ms burst of white noise scaled by a draw between LOW and HIGH of full scale (its
peaks up to about three times that) and decaying, e.g. `--clicks 3 0.1 0.5`.

`--lead-silence S` puts S seconds of digital silence (exact zeros) before each call: a recorder that starts writing
before the call connects, e.g. `--lead-silence 600`.

`--timed-only` runs the timed call alone (`--repeat N` times after its warm-up).

Needs a trained project (`dvc repro`). Usage: python benchmarks/calls.py [--pairs 03,08 10,14] [--minutes 10]
[--through speakerphone_8k] [--mono] [--no-denoise] [--timed-only] [--repeat N] [--leak-db -10 --leak-delay-ms 100]
[--set min_gap_s=0.5] [--held-out-space] [--answer-gap 0.05 0.35] [--gain-control 12 1.0] [--room 0.5]
[--dc-offset 0.05] [--line-noise-db -45] [--lead-silence 600] [--hum-db -30 --hum-hz 60] [--clicks 3 0.1 0.5]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ser  # noqa: F401  (first: the SIMD pins)

# isort: split

import librosa
import numpy as np
import soundfile as sf

from benchmarks.rules import changed
from ser.audio.channels import Condition, conditions_from_params
from ser.data import emodb
from ser.data.split import read_manifest
from ser.features.dataset import BabblePool
from ser.inference.analysis_config import AnalysisConfig
from ser.inference.calls import analyze
from ser.inference.channel_roles import customer_channel
from ser.inference.diarisation import diarisation_error_rate
from ser.inference.predictor import Predictor
from ser.inference.speech import Segment, segment
from ser.models import voice_space
from ser.pipeline.params import load_params
from tests.speech import busy, dtmf, gain_controlled, leaking, melody, pink_noise, ringback

ROOT = Path(__file__).resolve().parents[1]
SR = 16_000
PAIRS = ["03,08", "10,14", "11,09", "12,13", "15,16"]
# The calls' line noise (0.002 RMS). EmoDB's recordings carry their studio's background inside them (the 10th
# percentile of their 32 ms chunk energies: median -44.7 dBFS, 10th-90th percentile -54.8 to -35.2), mostly under
# 120 Hz, so at this level an utterance's inner pauses stand over the pauses between utterances; `--line-noise-db
# -45` puts a continuous background at the studio's level, as a caller's room or line would be.
LINE_NOISE_DB = 20 * np.log10(0.002)


def build_call(
    ids: dict[str, list[str]],
    seed: int,
    minutes: float | None = None,
    answer_gap: tuple[float, float] | None = None,
    line_noise_db: float = LINE_NOISE_DB,
) -> dict:
    """Turns of the two speakers (first = agent), fillers between some turns, over white line noise at
    ``line_noise_db`` dBFS on each channel; both channels and the truth. With
    ``answer_gap`` (low, high seconds) each turn starts that soon after the other voice's (else 0.4-1.2 s); a negative
    gap starts it that long *before* the other voice's last utterance ends (an interruption: the two voices overlap,
    by at most all but that utterance's first 0.5 s, and never over its own voice's last one), unless a filler came
    between them (then it starts as long after the filler)."""
    rng = np.random.default_rng(seed)
    first, second = list(ids)
    queues = {speaker: list(rng.permutation(ids[speaker])) for speaker in ids}
    fillers = [lambda: melody(3.0, int(rng.integers(100))), lambda: ringback(3.0), lambda: dtmf("159#"),
               lambda: busy(2.0), lambda: pink_noise(1.5, 0.05, int(rng.integers(100)))]  # fmt: skip
    pieces: list[tuple[int, int, np.ndarray]] = []  # (first sample, lane, samples)
    turns, other, t, end, speaker = [], [], 0.0, 0, first  # t, end: where the pieces so far end (s, samples)
    last_utterance: tuple[int, float] | None = None  # (lane, start s) of the last piece if it was an utterance

    def add(piece: np.ndarray, lane: int, at: float | None = None) -> None:
        """A piece on ``lane`` after the pieces so far, or from ``at`` seconds (over them)."""
        nonlocal t, end
        start = end if at is None else round(at * SR)
        pieces.append((start, lane, piece.astype(np.float32)))
        end = max(end, start + len(piece))
        t = t + len(piece) / SR if at is None else max(t, at + len(piece) / SR)

    def more() -> bool:
        return (minutes is None and any(queues.values())) or (minutes is not None and t < minutes * 60)

    while more():
        lane = 0 if speaker == first else 1
        for number in range(int(rng.integers(1, 4))):
            if not queues[speaker]:
                if minutes is None:
                    break
                queues[speaker] = list(rng.permutation(ids[speaker]))
            utterance = queues[speaker].pop()
            signal, _ = sf.read(ROOT / "data/raw/wav" / f"{utterance}.wav", dtype="float32")
            low, high = answer_gap if answer_gap and number == 0 and turns else (0.4, 1.2)
            gap = rng.uniform(low, high)
            if gap < 0 and last_utterance is not None and last_utterance[0] != lane:
                own_end = max((end_s for _, end_s, voice, _ in turns if voice == lane), default=0.0)
                at = max(last_utterance[1] + 0.5, t + gap, own_end + 0.1)  # a voice never overlaps itself
                turns.append((at, at + len(signal) / SR, lane, utterance))
                add(signal, lane, at=at)
            else:
                add(np.zeros(int(abs(gap) * SR)), lane)
                turns.append((t, t + len(signal) / SR, lane, utterance))
                add(signal, lane)
            last_utterance = (lane, turns[-1][0])
        if rng.random() < 0.3:
            add(np.zeros(int(0.5 * SR)), 0)
            filler = fillers[int(rng.integers(len(fillers)))]()
            other.append((t, t + len(filler) / SR))
            add(filler, 1)
            last_utterance = None
        speaker = second if speaker == first else first
    add(np.zeros(SR // 2), 0)
    channels = np.zeros((end, 2), np.float32)
    for start, lane, piece in pieces:
        channels[start : start + len(piece), lane] += piece
    channels += rng.standard_normal(channels.shape).astype(np.float32) * np.float32(10 ** (line_noise_db / 20))
    return {"stereo": channels, "mono": channels.sum(axis=1), "turns": turns, "other": other}


def encode(signal: np.ndarray, condition: str) -> bytes:
    buffer = io.BytesIO()
    if condition == "16k":
        sf.write(buffer, signal, SR, subtype="PCM_16", format="WAV")
    else:
        narrow = librosa.resample(signal.T if signal.ndim > 1 else signal, orig_sr=SR, target_sr=8000)
        sf.write(buffer, narrow.T if signal.ndim > 1 else narrow, 8000, subtype="ULAW", format="WAV")
    return buffer.getvalue()


def through(signal: np.ndarray, condition: Condition, call_id: str) -> bytes:
    """The call (mono, or each stereo channel on its own) through a channel condition, as a float WAV. A condition
    that draws the sample rate may give the channels different rates: a recorder writes one, so every channel is
    resampled to the highest (before session 27 the first channel's rate was written for all, which played the
    others at the wrong speed)."""
    lanes = [signal] if signal.ndim == 1 else [signal[:, c] for c in range(signal.shape[1])]
    heard = [condition.apply(lane, SR, f"{call_id}-{index}") for index, lane in enumerate(lanes)]
    sr = max(rate for _, rate in heard)
    heard = [(lane if rate == sr else librosa.resample(lane, orig_sr=rate, target_sr=sr), sr) for lane, rate in heard]
    length = min(len(lane) for lane, _ in heard)
    out = heard[0][0][:length] if signal.ndim == 1 else np.stack([lane[:length] for lane, _ in heard], axis=1)
    buffer = io.BytesIO()
    sf.write(buffer, out, sr, subtype="FLOAT", format="WAV")
    return buffer.getvalue()


def through_conditions(channels: dict, names: list[str], babble: BabblePool) -> list[Condition]:
    """Conditions of params.yaml's ``channels:`` block, or noise at an SNR named ``<kind>_<snr>db`` (e.g.
    ``babble_20db``, ``brown_5db``), then 8 kHz mu-law with ``_ulaw_8k`` (``babble_20db_ulaw_8k``), when params.yaml
    has no condition of that name."""
    conditions = []
    for name in names:
        noise = re.fullmatch(r"(white|pink|brown|babble)_(\d+)db(_ulaw_8k)?", name)
        if name in (channels.get("conditions") or {}) or not noise:
            conditions += conditions_from_params(channels, [name], babble)
        else:
            steps: list[dict] = [{"noise": {"kind": noise[1], "snr_db": int(noise[2])}}]
            if noise[3]:  # then the telephone line: 8 kHz G.711 mu-law
                steps += [{"resample": 8000}, {"codec": "ulaw"}]
            conditions.append(Condition(name, steps, int(channels.get("seed", 0)), babble))
    return conditions


class HeldOutSpaces:
    """Speaker spaces fitted as the ``voice_space`` stage fits the default one, without two given speakers."""

    def __init__(self, workers: int) -> None:
        params = load_params(ROOT / "params.yaml")["diarisation"]
        self.paths = [ROOT / "data/raw/wav" / f"{r}.wav" for r in read_manifest(ROOT / "data/split/train.csv")["id"]]
        stored = [np.load(ROOT / "data/voice_embeddings" / f"{name}.npy") for name in params["conditions"]]
        self.embedded = [voice_space.embeddings(self.paths, [None], workers), *stored]
        self.regularisation = float(params["regularisation"])

    def without(self, speakers: set[str]) -> np.ndarray:
        keep = np.array([emodb.parse_id(path.stem).speaker not in speakers for path in self.paths])
        kept = [path for path, k in zip(self.paths, keep, strict=True) if k]
        return voice_space.fit(kept, [vectors[keep] for vectors in self.embedded], self.regularisation)


def in_room(stereo: np.ndarray, rt60_s: float, seed: int) -> np.ndarray:
    """Each channel of a stereo call through a reverberant room (direct-to-reverberant ratio 1): hands-free."""
    room = Condition("room", [{"reverb": {"rt60_s": rt60_s, "direct_ratio": 1}}], 7)
    return np.stack([room.apply(stereo[:, c], SR, f"room{seed}-{c}")[0] for c in (0, 1)], axis=1)


def hum(frames: int, hz: float, level_db: float, seed: int) -> np.ndarray:
    """``frames`` samples of mains hum at ``level_db`` dBFS (RMS): ``hz`` with its 3rd and 5th harmonics 6 and 12 dB
    down, each at a seeded phase."""
    t = np.arange(frames) / SR
    phases = np.random.default_rng(seed).uniform(0, 2 * np.pi, 3)
    parts = zip((1.0, 0.5, 0.25), (1, 3, 5), phases, strict=True)
    wave = sum(a * np.sin(2 * np.pi * k * hz * t + p) for a, k, p in parts)
    return (wave / np.sqrt(np.mean(np.square(wave))) * 10 ** (level_db / 20)).astype(np.float32)


def clicks(frames: int, rate: float, low: float, high: float, seed: int) -> np.ndarray:
    """``frames`` samples of a crackling line: ``rate`` clicks a second at seeded places, each 16-63 samples of white
    noise scaled by a draw between ``low`` and ``high`` and decaying."""
    rng = np.random.default_rng(seed)
    line = np.zeros(frames, np.float32)
    for start in rng.integers(0, max(frames - 64, 1), int(rate * frames / SR)):
        length = int(rng.integers(16, 64))
        burst = rng.uniform(low, high) * rng.standard_normal(length) * np.exp(-np.arange(length) / (length / 3))
        line[start : start + length] += burst.astype(np.float32)
    return line


def silence_first(call: dict, seconds: float) -> dict:
    """The call with ``seconds`` of digital silence before it, its truth moved as far."""
    lead = int(seconds * SR)
    return {
        "stereo": np.concatenate([np.zeros((lead, 2), np.float32), call["stereo"]]),
        "mono": np.concatenate([np.zeros(lead, np.float32), call["mono"]]),
        "turns": [(start + lead / SR, end + lead / SR, *rest) for start, end, *rest in call["turns"]],
        "other": [(start + lead / SR, end + lead / SR) for start, end in call["other"]],
    }


def overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


MISSES = ("none", "split", "merged", "early start", "late start", "early end", "late end")  # see ``miss``


def miss(hits: list[dict], turn: tuple, neighbours: list[tuple[float, float]]) -> str | None:
    """Why an utterance (``turn``) is not found as one segment within +-0.3 s, or None when it is: no segment on it
    (``none``), several (``split``: a pause inside it), one that also covers a neighbouring utterance of its channel
    (``merged``), or one whose start (``early start``, ``late start``) or else end is more than 0.3 s off."""
    start, end = turn[0], turn[1]
    if not hits:
        return "none"
    if len(hits) > 1:
        return "split"
    span = (hits[0]["start_s"], hits[0]["end_s"])
    if any(overlap(span, other) > 0 for other in neighbours):
        return "merged"
    if abs(span[0] - start) > 0.3:
        return "early start" if span[0] < start else "late start"
    if abs(span[1] - end) > 0.3:
        return "early end" if span[1] < end else "late end"
    return None


def score(result: dict, call: dict, stereo: bool) -> dict:
    timeline = result["timeline"]
    matched, emotions, misses = 0, [], Counter()
    for turn in call["turns"]:
        start, end, lane, utterance = turn
        lane_items = [i for i in timeline if not stereo or i["speaker"] == lane]
        hits = [i for i in lane_items if overlap((i["start_s"], i["end_s"]), (start, end)) > 0]
        neighbours = [
            (s, e) for s, e, other_lane, u in call["turns"] if u != utterance and (not stereo or other_lane == lane)
        ]
        why = miss(hits, turn, neighbours)
        if why is None:
            matched += 1
            emotions.append((utterance, hits[0]["emotion"]))
        else:
            misses[why] += 1
    inside = sum(1 for i in timeline for o in call["other"] if overlap((i["start_s"], i["end_s"]), o) > 0.05)

    def stray(item: dict) -> bool:  # on no utterance of its speaker (stereo: its channel)
        spans = [(start, end) for start, end, lane, _ in call["turns"] if not stereo or lane == item["speaker"]]
        return not any(overlap((item["start_s"], item["end_s"]), span) > 0 for span in spans)

    figures = {
        "matched": matched / len(call["turns"]),
        "inside": inside,
        "stray": sum(map(stray, timeline)),
        "emotions": emotions,
        "misses": misses,
    }
    if stereo:  # which channel `customer_channel: auto` gives: the customer (the second voice) is on channel 1
        segments = [Segment(i["start_s"], i["end_s"], i["speaker"]) for i in timeline]
        figures["auto_right"] = customer_channel(segments, 2, AnalysisConfig(customer_channel="auto"))[0] == 1
    if not stereo:
        reference = [(start, end, lane) for start, end, lane, _ in call["turns"]]
        hypothesis = [(i["start_s"], i["end_s"], i["speaker"]) for i in timeline]
        figures["der"] = diarisation_error_rate(reference, hypothesis)
    return figures


def heard(result: dict) -> str:
    """The roles' audio measures and warnings (``ser.inference.quality``), e.g. ``38 480 -; 17 240 noisy``."""
    parts = []
    for role in ("customer", "agent"):
        audio = (result["summary"]["roles"][role] or {}).get("audio")
        parts.append("-" if audio is None else f"{audio['snr_db']:.0f} {audio['decay_db_per_s']} "
                     f"{','.join(audio['warnings']) or '-'}")  # fmt: skip
    return "; ".join(parts)


def alone_emotions(predictor: Predictor, data: bytes, call: dict, stereo: bool) -> dict[str, str]:
    """Each recording cut from the decoded call (same channel, line noise and codec) and classified on its own."""
    audio, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    answers = {}
    for start, end, lane, utterance in call["turns"]:
        piece = audio[int(start * sr) : int(end * sr), lane if stereo else 0]
        buffer = io.BytesIO()
        sf.write(buffer, piece, sr, subtype="FLOAT", format="WAV")
        answers[utterance] = predictor.predict_audio(buffer.getvalue())["class"]["emotion"]
    return answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", nargs="+", default=PAIRS)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the timed stereo call")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--through", nargs="+", help="channel conditions of params.yaml instead of 16 kHz / mu-law")
    parser.add_argument("--no-denoise", action="store_true", help="mono: the voice encoder hears the noisy segments")
    parser.add_argument("--mono", action="store_true", help="mono calls only (diarisation)")
    parser.add_argument("--timed-only", action="store_true", help="only the timed stereo call")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of the stereo call (after one warm-up)")
    parser.add_argument("--leak-db", type=float, help="stereo: each channel also hears the other this many dB down")
    parser.add_argument("--leak-delay-ms", type=float, default=0.0, help="... delayed by this much (line echo)")
    parser.add_argument("--leak-correlation", type=float, help="analysis.leak_correlation (0: no leak rule)")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", help="other analysis: rules (numbers)")
    parser.add_argument("--held-out-space", action="store_true", help="diarise in a space fitted without the pair")
    parser.add_argument("--answer-gap", nargs=2, type=float, metavar=("LOW", "HIGH"), help="seconds before each turn")
    parser.add_argument("--gain-control", nargs=2, type=float, metavar=("MAX_DB", "RELEASE_S"), help="handset AGC")
    parser.add_argument("--room", type=float, metavar="RT60_S", help="each channel first through a reverberant room")
    parser.add_argument("--line-noise-db", type=float, default=LINE_NOISE_DB, help="the calls' line noise (dBFS)")
    parser.add_argument("--lead-silence", type=float, metavar="S", help="seconds of exact zeros before each call")
    parser.add_argument("--dc-offset", type=float, metavar="X", help="a constant added to each channel (mono: the mix)")
    parser.add_argument("--hum-db", type=float, metavar="X", help="mains hum at X dBFS on each channel (mono: the mix)")
    parser.add_argument("--hum-hz", type=float, default=50.0, help="the mains frequency of --hum-db")
    parser.add_argument("--clicks", nargs=3, type=float, metavar=("RATE", "LOW", "HIGH"), help="a crackling line")
    args = parser.parse_args()
    if args.timed_only:
        args.pairs = []
    conditions: dict[str, Condition | None] = {"16k": None, "8k_ulaw": None}
    if args.through:
        params = load_params(ROOT / "params.yaml")
        train_ids = read_manifest(ROOT / "data/split/train.csv")["id"]
        babble = BabblePool([ROOT / "data/raw/wav" / f"{r}.wav" for r in train_ids])
        conditions = {c.name: c for c in through_conditions(params["channels"], args.through, babble)}
    predictor = Predictor.load(ROOT / "models/model")
    spaces = HeldOutSpaces(args.workers) if args.held_out_space else None
    config = AnalysisConfig(denoise_voices=not args.no_denoise)
    if args.leak_correlation is not None:
        config = dataclasses.replace(config, leak_correlation=args.leak_correlation)
    try:
        config = changed(config, args.set)
    except ValueError as error:
        parser.error(str(error))
    names = sorted(p.stem for p in (ROOT / "data/raw/wav").glob("*.wav"))
    print(f"{'pair':<6} {'call':<7} {'channel':<8} {'utterances':>10} {'found':>7} {'in noise':>8} {'stray':>5} "
          f"{'DER':>6} {'emotion acc':>11} {'alone acc':>9}  "
          "audio: customer; agent (SNR dB, decay dB/s, warning)")  # fmt: skip
    totals: dict[tuple[str, str], list] = {}
    for seed, pair in enumerate(args.pairs):
        a, b = pair.split(",")
        if spaces is not None:
            predictor.artifact = dataclasses.replace(predictor.artifact, voice_space=spaces.without({a, b}))
        gap = tuple(args.answer_gap) if args.answer_gap else None
        ids = {s: [n for n in names if n.startswith(s)] for s in (a, b)}
        call = build_call(ids, seed, answer_gap=gap, line_noise_db=args.line_noise_db)
        if args.leak_db is not None:
            call["stereo"] = leaking(call["stereo"], args.leak_db, args.leak_delay_ms / 1000, SR)
        if args.room is not None:
            call["stereo"] = in_room(call["stereo"], args.room, seed)
            call["mono"] = call["stereo"].sum(axis=1)
        if args.gain_control:
            stereo = call["stereo"]
            call["stereo"] = np.stack([gain_controlled(stereo[:, c], *args.gain_control) for c in (0, 1)], axis=1)
            call["mono"] = gain_controlled(stereo.sum(axis=1), *args.gain_control)
        if args.dc_offset:
            call["stereo"], call["mono"] = call["stereo"] + args.dc_offset, call["mono"] + args.dc_offset
        if args.hum_db is not None:
            line = hum(len(call["mono"]), args.hum_hz, args.hum_db, seed)
            call["stereo"], call["mono"] = call["stereo"] + line[:, None], call["mono"] + line
        if args.clicks:
            line = clicks(len(call["mono"]), *args.clicks, seed)
            call["stereo"], call["mono"] = call["stereo"] + line[:, None], call["mono"] + line
        if args.lead_silence:
            call = silence_first(call, args.lead_silence)
        for condition, chain in conditions.items():
            for kind in ("mono",) if args.mono else ("mono", "stereo"):
                data = encode(call[kind], condition) if chain is None else through(call[kind], chain, f"call{seed}")
                alone = alone_emotions(predictor, data, call, kind == "stereo") if pair == "03,08" else {}
                result = analyze(data, predictor, config, workers=args.workers)
                figures = score(result, call, kind == "stereo")
                total = totals.setdefault((condition, kind), [0, 0, 0, 0, [], Counter(), []])
                total[0] += len(call["turns"])
                total[1] += round(figures["matched"] * len(call["turns"]))
                total[2] += figures["inside"]
                total[3] += figures["stray"]
                if "der" in figures:
                    total[4].append(figures["der"])
                total[5].update(figures["misses"])
                if "auto_right" in figures:
                    total[6].append(figures["auto_right"])
                truth = {u: emodb.parse_id(u).emotion for u in alone}
                segment_acc = np.mean([e == truth[u] for u, e in figures["emotions"]]) if alone else float("nan")
                alone_acc = np.mean([alone[u] == truth[u] for u, _ in figures["emotions"]]) if alone else float("nan")
                der = f"{figures['der']:.3f}" if "der" in figures else "-"
                found, inside, stray = figures["matched"], figures["inside"], figures["stray"]
                print(f"{pair:<6} {kind:<7} {condition:<8} {len(call['turns']):>10} {found:>7.1%} "
                      f"{inside:>8} {stray:>5} {der:>6} {segment_acc:>11.3f} {alone_acc:>9.3f}  {heard(result)}",
                      flush=True)  # fmt: skip
    if totals:
        print("all pairs:")
    for (condition, kind), (n, found, inside, stray, ders, misses, auto) in totals.items():
        der = f", DER mean {np.mean(ders):.3f} max {np.max(ders):.3f}" if ders else ""
        der += f", customer_channel auto right in {sum(auto)}/{len(auto)} calls" if auto else ""
        share = f"{found}/{n} utterances found ({found / n:.1%})"
        why = ", ".join(f"{misses[name]} {name}" for name in MISSES)
        print(f"  {kind:<7} {condition:<8}: {share}, {inside} segments in music/tones/noise, {stray} stray{der}")
        print(f"  {'':<7} {'':<8}  not found: {why} (early / late: the one segment's edge more than 0.3 s off)")
    altered = args.gain_control or args.dc_offset or args.lead_silence or args.line_noise_db != LINE_NOISE_DB
    altered = altered or args.hum_db is not None or args.clicks is not None
    if args.through or args.mono or altered:  # the timed call is the usual one
        return

    call = build_call({s: [n for n in names if n.startswith(s)] for s in ("03", "08")}, 99, minutes=args.minutes)
    if args.room is not None:
        call["stereo"] = in_room(call["stereo"], args.room, 99)
    duration = call["stereo"].shape[0] / SR
    with tempfile.TemporaryDirectory(prefix="ser-call-") as directory:
        path = Path(directory) / "call.wav"  # read from a file, as `ser analyze` and POST /analyze do
        path.write_bytes(encode(call["stereo"], "16k"))
        analyze(path, predictor, config, workers=args.workers)  # warm: encoders loaded, numba compiled
        for _ in range(args.repeat):
            started = time.perf_counter()
            speech = segment(path, True, config, workers=args.workers)
            detected = time.perf_counter() - started
            started = time.perf_counter()
            result = analyze(path, predictor, config, workers=args.workers)
            elapsed = time.perf_counter() - started
            speech_s = sum(seg.end_s - seg.start_s for seg in speech.segments)
            print(f"{duration / 60:.1f}-minute stereo 16 kHz call, {len(result['timeline'])} segments "
                  f"({speech_s:.0f} s of speech): {elapsed:.2f} s ({duration / elapsed:.0f}x real time, "
                  f"{args.workers} workers; speech detection alone {detected:.2f} s)", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
