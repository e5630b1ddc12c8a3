"""Test audio for call analysis: speech from espeak-ng (two voices), and what calls carry besides speech: hold music
(harmonic melodies), ITU tone plans (ring-back, busy), DTMF digits and pink noise."""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
from dataclasses import dataclass

import librosa
import numpy as np
import pytest
import soundfile as sf

SR = 16_000
VOICES = ("de", "de+f3")  # a male and a female German espeak-ng voice
SENTENCES = (
    "Guten Tag, Sie sprechen mit dem Kundendienst, wie kann ich Ihnen helfen?",
    "Mein Paket ist seit zwei Wochen nicht angekommen.",
    "Das tut mir leid, ich sehe sofort nach.",
    "Ich warte schon sehr lange und bin wirklich verärgert.",
    "Ich habe die Sendung gefunden, sie kommt morgen.",
    "Na gut, vielen Dank.",
)

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (scripts/project test)")


@functools.cache
def say(text: str, voice: str) -> np.ndarray:
    """``text`` spoken by espeak-ng's ``voice`` at 16 kHz, peak 0.5, without espeak's leading and trailing silence
    (so that a call's turns are where the speech is)."""
    wav = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text], capture_output=True, check=True).stdout
    signal, sr = sf.read(io.BytesIO(wav), dtype="float32")
    signal, _ = librosa.effects.trim(librosa.resample(signal, orig_sr=sr, target_sr=SR), top_db=50)
    return (0.5 * signal / np.abs(signal).max()).astype(np.float32)


def melody(seconds: float, seed: int = 0) -> np.ndarray:
    """Hold music: a random melody of harmonic notes with a little vibrato."""
    rng = np.random.default_rng(seed)
    notes = []
    while sum(len(n) for n in notes) < seconds * SR:
        f0 = 220.0 * 2 ** (rng.integers(0, 15) / 12)
        t = np.arange(int(rng.uniform(0.2, 0.5) * SR)) / SR
        phase = 2 * np.pi * f0 * t + 0.3 * np.sin(2 * np.pi * 5 * t)
        notes.append(sum(0.15 / k * np.sin(k * phase) for k in range(1, 7)) * np.minimum(1, 20 * t))
    return np.concatenate(notes)[: int(seconds * SR)].astype(np.float32)


def tones(seconds: float, frequencies: tuple[float, ...], on_s: float, off_s: float) -> np.ndarray:
    """A call-progress tone (ITU-T E.180): the sum of ``frequencies``, ``on_s`` on and ``off_s`` off."""
    t = np.arange(int(seconds * SR)) / SR
    signal = sum(0.2 * np.sin(2 * np.pi * f * t) for f in frequencies)
    return (signal * ((t % (on_s + off_s)) < on_s)).astype(np.float32)


def ringback(seconds: float) -> np.ndarray:
    return tones(seconds, (440.0, 480.0), 2.0, 4.0)  # North American ring-back


def busy(seconds: float) -> np.ndarray:
    return tones(seconds, (425.0,), 0.5, 0.5)  # European busy tone


DTMF = {"1": (697, 1209), "5": (770, 1336), "9": (852, 1477), "0": (941, 1336), "#": (941, 1477)}


def dtmf(digits: str) -> np.ndarray:
    """Key presses: 100 ms per digit, 100 ms apart."""
    t = np.arange(int(0.1 * SR)) / SR
    parts = []
    for digit in digits:
        low, high = DTMF[digit]
        parts += [0.2 * (np.sin(2 * np.pi * low * t) + np.sin(2 * np.pi * high * t)), np.zeros_like(t)]
    return np.concatenate(parts).astype(np.float32)


def pink_noise(seconds: float, level: float = 0.05, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(int(seconds * SR)))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    noise = np.fft.irfft(spectrum, int(seconds * SR))
    return (level * noise / noise.std()).astype(np.float32)


@dataclass
class Call:
    signal: np.ndarray  # mono, or (samples, 2) stereo
    turns: list[tuple[float, float, int]]  # (start_s, end_s, voice) of every utterance
    other: list[tuple[float, float]]  # where music, tones, DTMF or noise bursts play


def build_call(stereo: bool = False, line_noise: float = 0.002, seed: int = 0) -> Call:
    """A two-voice call (voice 0 first), with hold music, ring-back, busy tone, DTMF and a noise burst between
    utterances, over faint line noise. Stereo: each voice (and the non-speech, heard by the customer's line) on
    its own channel."""
    rng = np.random.default_rng(seed)
    fillers = [melody(3.0, seed), ringback(3.0), dtmf("1590#"), busy(2.0), pink_noise(1.5, 0.08, seed)]
    lanes: list[list[np.ndarray]] = [[], []]
    turns, other, t = [], [], 0.0

    def add(piece: np.ndarray, lane: int) -> None:
        nonlocal t
        lanes[lane].append(piece)
        lanes[1 - lane].append(np.zeros_like(piece))
        t += len(piece) / SR

    for index, sentence in enumerate(SENTENCES):
        add(np.zeros(int(rng.uniform(0.6, 1.2) * SR), np.float32), 0)
        voice = index % 2
        speech = say(sentence, VOICES[voice])
        turns.append((t, t + len(speech) / SR, voice))
        add(speech, voice)
        if index < len(fillers):
            add(np.zeros(int(0.5 * SR), np.float32), 0)
            other.append((t, t + len(fillers[index]) / SR))
            add(fillers[index], 1)
    add(np.zeros(SR // 2, np.float32), 0)
    channels = [np.concatenate(lane) for lane in lanes]
    noise = np.random.default_rng(seed + 1).standard_normal((len(channels[0]), 2)).astype(np.float32) * line_noise
    if stereo:
        return Call(np.stack(channels, axis=1) + noise, turns, other)
    return Call(channels[0] + channels[1] + noise[:, 0], turns, other)


def build_exchange(seed: int = 0, line_noise: float = 0.002) -> Call:
    """A mono call in which each voice answers the other within 0.1-0.25 s, as people do in conversation (shorter
    than the pauses that separate segments), over faint line noise. The sentences are said without their commas,
    at which espeak-ng pauses long enough to end a segment."""
    rng = np.random.default_rng(seed)
    pieces, turns, t = [np.zeros(SR // 2, np.float32)], [], 0.5
    for index, sentence in enumerate(SENTENCES):
        speech = say(sentence.replace(",", ""), VOICES[index % 2])
        turns.append((t, t + len(speech) / SR, index % 2))
        gap = np.zeros(int(rng.uniform(0.1, 0.25) * SR), np.float32)
        pieces += [speech, gap]
        t += (len(speech) + len(gap)) / SR
    pieces.append(np.zeros(SR // 2, np.float32))
    signal = np.concatenate(pieces)
    noise = np.random.default_rng(seed + 1).standard_normal(len(signal)).astype(np.float32) * line_noise
    return Call(signal + noise, turns, [])


def wav_bytes(signal: np.ndarray, sr: int = SR, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, signal, sr, subtype=subtype, format="WAV")
    return buffer.getvalue()


def leaking(stereo: np.ndarray, leak_db: float, delay_s: float = 0.0, sr: int = SR) -> np.ndarray:
    """Each channel plus the other one ``leak_db`` down and ``delay_s`` late: line echo or acoustic coupling
    (G.168 allows a hybrid's echo 6 dB down; a recorder that taps the line before the echo canceller keeps it)."""
    delay = int(delay_s * sr)
    late = np.concatenate([np.zeros((delay, 2), stereo.dtype), stereo])[: len(stereo)]
    return stereo + np.asarray(10 ** (leak_db / 20), stereo.dtype) * late[:, ::-1]


def gain_controlled(
    signal: np.ndarray, max_gain_db: float, release_s: float, target_db: float = -20.0, sr: int = SR
) -> np.ndarray:
    """``signal`` (one channel) through a handset's automatic gain control, which lifts the line noise by up to
    ``max_gain_db`` in every pause and lowers it when speech returns: the RMS level of 20 ms frames (10 ms hop),
    followed at once when it rises (10 ms) and within ``release_s`` when it falls, is brought to ``target_db`` with
    -30 dB to ``max_gain_db`` of gain, interpolated between frames; clipped at full scale."""
    hop = sr // 100
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(signal, (hop, hop)), 2 * hop)[::hop]
    level = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1) + 1e-12)
    attack, release = np.exp(-1 / 1.0), np.exp(-1 / (release_s * 100))
    followed, current = np.empty_like(level), level[0]
    for index, value in enumerate(level):
        weight = attack if value > current else release
        current = weight * current + (1 - weight) * value
        followed[index] = current
    gain_db = np.clip(target_db - 20 * np.log10(followed), -30.0, max_gain_db)
    gain = np.interp(np.arange(len(signal)), np.arange(len(gain_db)) * hop, 10 ** (gain_db / 20))
    return np.clip(signal * gain, -1.0, 1.0).astype(np.float32)
