"""Voice-activity detectors compared on what calls carry (issue #15): Silero VAD (onnxruntime; what
`ser.inference.vad` uses) and WebRTC's VAD (webrtcvad-wheels, in the dev extra, at its most aggressive mode 3).

Printed per kind of audio: the share of 32 ms chunks (Silero, probability >= the analysis threshold) or 30 ms frames
(WebRTC) flagged as speech, and the speech regions ``ser.inference.vad.speech_regions`` makes of them; then speed
on one core (times real time) and the memory a worker pays for the detector (RSS growth on loading and first use).
Speech: EmoDB's test speakers 03 and 08 (clean, 8 kHz mu-law, white noise at 10 dB SNR); the rest is synthetic.
Usage: python benchmarks/vad.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ser  # noqa: F401  (first: the SIMD pins)

# isort: split

import librosa
import numpy as np
import psutil
import soundfile as sf

from ser.inference import vad
from ser.inference.analysis_config import AnalysisConfig
from tests.speech import busy, dtmf, melody, pink_noise, ringback

ROOT = Path(__file__).resolve().parents[1]
SR = 16_000


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def speech(kind: str) -> np.ndarray:
    paths = sorted((ROOT / "data/raw/wav").glob("0[38]*.wav"))[::3]
    signal = np.concatenate([sf.read(p, dtype="float32")[0] for p in paths])
    if kind == "8 kHz mu-law":
        narrow = librosa.resample(signal, orig_sr=SR, target_sr=8000)
        coded = librosa.mu_expand(librosa.mu_compress(np.clip(narrow, -1, 1), quantize=True), quantize=True)
        return librosa.resample(coded.astype(np.float32), orig_sr=8000, target_sr=SR)
    if kind == "white noise 10 dB":
        noise = np.random.default_rng(0).standard_normal(signal.size).astype(np.float32)
        return signal + noise * np.sqrt(np.mean(signal**2) / 10)
    return signal


def silero(signal: np.ndarray, threshold: float) -> tuple[float, int]:
    detector = vad.VoiceActivity()
    detector.feed(signal)
    probabilities = detector.probabilities()
    regions = vad.speech_regions(probabilities, AnalysisConfig().speech_rules)
    return float(np.mean(probabilities >= threshold)), len(regions)


def webrtc(signal: np.ndarray, detector) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    pcm = (np.clip(signal, -1, 1) * 32767).astype("<i2").tobytes()
    frame = int(0.03 * SR) * 2
    flags = np.array([detector.is_speech(pcm[i : i + frame], SR) for i in range(0, len(pcm) - frame + 1, frame)])
    # the same region rules, on 30 ms frames read as probabilities 0/1
    rules = AnalysisConfig().speech_rules
    chunks = np.repeat(flags.astype(np.float32), 30)[:: int(vad.CHUNK_S * 1000)]
    return float(flags.mean()), len(vad.speech_regions(chunks, rules))


def main() -> None:
    import webrtcvad

    audio = {
        "speech, clean": speech("clean"),
        "speech, 8 kHz mu-law": speech("8 kHz mu-law"),
        "speech, white noise 10 dB": speech("white noise 10 dB"),
        "hold music (melodies)": np.concatenate([melody(10.0, seed) for seed in range(6)]),
        "ring-back 440+480 Hz": ringback(60.0),
        "busy 425 Hz": busy(60.0),
        "DTMF digits": np.tile(dtmf("1590#"), 60),
        "pink noise": pink_noise(60.0, 0.05),
        "line noise (-54 dBFS)": np.random.default_rng(1).standard_normal(60 * SR).astype(np.float32) * 0.002,
    }
    threshold = AnalysisConfig().vad_threshold
    before = rss_mb()
    vad.session()
    silero(audio["speech, clean"][:SR], threshold)
    silero_memory = rss_mb() - before
    before = rss_mb()
    detector = webrtcvad.Vad(3)
    webrtc_memory = rss_mb() - before
    print(f"{'audio':<28} {'seconds':>8} {'Silero flagged':>15} {'regions':>8} {'WebRTC flagged':>15} {'regions':>8}")
    for name, signal in audio.items():
        share, regions = silero(signal, threshold)
        web_share, web_regions = webrtc(signal, detector)
        print(f"{name:<28} {signal.size / SR:>8.0f} {share:>15.1%} {regions:>8} {web_share:>15.1%} {web_regions:>8}")
    signal = audio["speech, clean"]
    started = time.perf_counter()
    silero(signal, threshold)
    silero_speed = signal.size / SR / (time.perf_counter() - started)
    started = time.perf_counter()
    webrtc(signal, detector)
    webrtc_speed = signal.size / SR / (time.perf_counter() - started)
    print(f"speed on one core: Silero {silero_speed:.0f}x real time, WebRTC {webrtc_speed:.0f}x")
    print(f"memory per worker (RSS growth): Silero + onnxruntime {silero_memory:.0f} MB, WebRTC {webrtc_memory:.1f} MB")


if __name__ == "__main__":
    main()
