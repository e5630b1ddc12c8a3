"""The served model on channel conditions that no issue lists and no evaluation condition covers.

The product will meet lines and recording setups nobody named: an overdriven handset that clips, mains hum, line echo,
brown noise, music behind the caller, a handset's noise suppression (RNNoise) after noise, the lowest Opus, MP3 and
AMR-NB bit rates, a call coded three times over (tandem codecs), AAC (M4A) storage, headerless G.722, G.726, G.729 and
VOX files from a PBX, G.723.1, a Bluetooth headset's mSBC, dynamic-range compression and limiting, level changes within
an utterance, speakers who talk slower or faster or with a lower or higher voice. This script
sends the current test speakers' recordings (data/split/test.csv, the speakers the served model never saw) through
such chains and prints, per condition, accuracy, UAR and the share of answers equal to the answer on the clean
recording. Nothing here feeds back into training or selection: these are figures to read, not to tune to.

Chains use the pipeline's channel steps (ser.audio.channels) where one exists, audiomentations for distortion, and
small signal functions (hum, echo, a compressor). Seeded per recording. Needs a trained project (`dvc repro`).
Usage: python benchmarks/unseen_conditions.py [--only NAME ...]   # about 2.5 min on 2 cores
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import random
import sys
import tempfile
import zlib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ser  # noqa: F401  (first: the SIMD pins)

# isort: split

import audiomentations as am
import av
import numpy as np
import pandas as pd

from ser.audio.channels import Condition
from ser.audio.decoding import decode_channels, resample
from ser.data import emodb
from ser.errors import SerError
from ser.features.dataset import BabblePool, features_of_recording
from ser.features.extractor import FeatureConfig
from ser.models.artifact import ModelArtifact
from ser.models.metrics import classification_metrics
from ser.pipeline.paths import MODEL_DIR, TEST_MANIFEST, TRAIN_MANIFEST, WAV_DIR
from tests import g729
from tests.audio_samples import HEADERLESS, headerless
from tests.g729 import encode_g729
from tests.speech import SR as SPEECH_SR
from tests.speech import melody

ROOT = Path(__file__).resolve().parents[1]
Transform = Callable[[np.ndarray, int, str], tuple[np.ndarray, int]]


@functools.cache
def _training_babble() -> BabblePool:
    """Babble talkers from the training speakers' recordings only, as the pipeline mixes it."""
    ids = pd.read_csv(ROOT / TRAIN_MANIFEST, usecols=["id"])["id"]
    return BabblePool([ROOT / WAV_DIR / f"{rid}.wav" for rid in ids])


def _babble(rng: np.random.Generator, talkers: int, recording_id: str) -> list[np.ndarray]:
    """``_training_babble``'s talkers, the pool read at first use (so importing this module needs no data)."""
    return _training_babble()(rng, talkers, recording_id)


def channel(steps: list[dict]) -> Transform:
    """A chain of the pipeline's channel steps (the syntax of params.yaml's `channels.conditions`)."""
    babble = _babble if any("noise" in step for step in steps) else None
    return Condition("unseen", steps, seed=11, babble_source=babble).apply


def augmentation(transform: am.core.transforms_interface.BaseWaveformTransform) -> Transform:
    """An audiomentations transform, seeded by the recording id."""

    def apply(signal: np.ndarray, sr: int, recording_id: str) -> tuple[np.ndarray, int]:
        seed = zlib.crc32(recording_id.encode())
        random.seed(seed)
        np.random.seed(seed)
        return transform(samples=signal, sample_rate=sr).astype(np.float32), sr

    return apply


def hum(relative_db: float, mains_hz: float = 50.0) -> Transform:
    """Mains hum (odd harmonics 1, 3, 5) at ``relative_db`` under the recording's RMS."""

    def apply(signal: np.ndarray, sr: int, recording_id: str) -> tuple[np.ndarray, int]:
        t = np.arange(signal.size) / sr
        tone = sum(np.sin(2 * np.pi * mains_hz * k * t) / k for k in (1, 3, 5))
        tone *= np.sqrt(np.mean(signal**2) / np.mean(tone**2)) * 10 ** (relative_db / 20)
        return (signal + tone).astype(np.float32), sr

    return apply


def echo(delay_s: float, relative_db: float) -> Transform:
    """One echo of the signal ``delay_s`` later, ``relative_db`` under it (a line or acoustic echo)."""

    def apply(signal: np.ndarray, sr: int, recording_id: str) -> tuple[np.ndarray, int]:
        delay = int(delay_s * sr)
        out = signal.copy()
        out[delay:] += signal[:-delay] * 10 ** (relative_db / 20)
        return out, sr

    return apply


def music(snr_db: float) -> Transform:
    """Music behind the caller (a radio, a TV): a harmonic melody (the tests' hold music, seeded by the recording) at
    ``snr_db`` under the recording's RMS."""

    def apply(signal: np.ndarray, sr: int, recording_id: str) -> tuple[np.ndarray, int]:
        tune = resample(melody(signal.size / sr + 1.0, zlib.crc32(recording_id.encode())), SPEECH_SR, sr)[: signal.size]
        tune = tune * np.sqrt(np.mean(signal**2) / np.mean(tune**2)) * 10 ** (-snr_db / 20)
        return (signal + tune).astype(np.float32), sr

    return apply


@functools.cache
def _rnnoise() -> Any:
    """RNNoise's ctypes binding (Xiph's recurrent-network noise suppression, as softphones and conferencing apps run
    it) from the ``pyrnnoise`` wheel, loaded from its file: the package's ``__init__`` imports audio-file
    dependencies this script does not need (``scripts/project setup --dev`` installs it with ``--no-deps``)."""
    spec = importlib.util.find_spec("pyrnnoise")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("pyrnnoise is not installed: pip install --no-deps -r requirements-dev-nodeps.txt")
    path = Path(next(iter(spec.submodule_search_locations))) / "rnnoise.py"
    module_spec = importlib.util.spec_from_file_location("ser_bench_rnnoise", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def suppressed(kind: str | None, snr_db: float = 10.0) -> Transform:
    """Noise (``kind``: white or babble; None: none) at ``snr_db``, then a handset's or softphone's noise suppression:
    RNNoise, which runs at 48 kHz in 10 ms frames and takes out of each band what its network hears as noise."""
    noisy = channel([{"noise": {"kind": kind, "snr_db": snr_db}}]) if kind else None

    def apply(signal: np.ndarray, sr: int, recording_id: str) -> tuple[np.ndarray, int]:
        rnnoise = _rnnoise()
        if noisy is not None:
            signal, sr = noisy(signal, sr, recording_id)
        wide = resample(signal, sr, rnnoise.SAMPLE_RATE)
        frames = -(-wide.size // rnnoise.FRAME_SIZE)
        padded = np.zeros(frames * rnnoise.FRAME_SIZE, np.float32)
        padded[: wide.size] = np.clip(wide, -1.0, 1.0)
        state = rnnoise.create()
        try:
            out = [rnnoise.process_mono_frame(state, frame)[0] for frame in padded.reshape(frames, -1)]
        finally:
            rnnoise.destroy(state)
        cleaned = np.concatenate(out).astype(np.float32)[: wide.size] / 32767
        return resample(cleaned, rnnoise.SAMPLE_RATE, sr), sr

    return apply


def compressed(below_peak_db: float, ratio: float, attack_ms: float, release_ms: float) -> Transform:
    """A dynamic-range compressor as handsets, softphones and recorders apply one: 1 ms frame levels, a hard knee
    ``below_peak_db`` under the loudest frame, gain reduction smoothed with the attack and release times."""

    def apply(signal: np.ndarray, sr: int, recording_id: str) -> tuple[np.ndarray, int]:
        hop = max(1, sr // 1000)
        frames = int(np.ceil(signal.size / hop))
        padded = np.pad(signal.astype(np.float64), (0, frames * hop - signal.size))
        level = 10 * np.log10(np.mean(padded.reshape(frames, hop) ** 2, axis=1) + 1e-12)
        wanted = -np.maximum(level - (level.max() - below_peak_db), 0.0) * (1 - 1 / ratio)
        attack, release = np.exp(-1 / attack_ms), np.exp(-1 / release_ms)
        smoothed, gain_db = np.empty(frames), 0.0
        for index, target in enumerate(wanted):
            weight = attack if target < gain_db else release
            gain_db = weight * gain_db + (1 - weight) * target
            smoothed[index] = gain_db
        gain = np.interp(np.arange(signal.size), np.arange(frames) * hop + hop / 2, 10 ** (smoothed / 20))
        return (signal * gain).astype(np.float32), sr

    return apply


def coded(encoder: str, rate: int, bit_rate: int | None = None, options: dict[str, str] | None = None) -> Transform:
    """The recording at ``rate`` through an FFmpeg codec (PyAV) on a link that keeps no file: encoded and decoded frame
    by frame (a Bluetooth headset's mSBC, a VoIP leg's G.723.1), then heard as the PCM a recorder writes."""

    def apply(signal: np.ndarray, sr: int, recording_id: str) -> tuple[np.ndarray, int]:
        samples = (np.clip(resample(signal, sr, rate), -1.0, 1.0) * 32767).astype(np.int16)
        encoder_context = av.CodecContext.create(encoder, "w")
        encoder_context.sample_rate, encoder_context.layout, encoder_context.format = rate, "mono", "s16"
        if bit_rate:
            encoder_context.bit_rate = bit_rate
        encoder_context.options = options or {}
        encoder_context.open()
        size = encoder_context.frame_size
        padded = np.pad(samples, (0, -samples.size % size))
        packets = []
        for start in range(0, padded.size, size):
            frame = av.AudioFrame.from_ndarray(padded[None, start : start + size], format="s16", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            packets += encoder_context.encode(frame)
        packets += encoder_context.encode(None)
        decoder = av.CodecContext.create(encoder, "r")
        decoder.sample_rate, decoder.layout = rate, "mono"
        frames = [frame for packet in packets for frame in decoder.decode(packet)]
        scale = 32768.0 if frames and frames[0].format.name.startswith("s16") else 1.0
        decoded = np.concatenate([f.to_ndarray().reshape(-1).astype(np.float32) / scale for f in frames])
        return decoded[: samples.size], rate

    return apply


def stored_as(suffix: str) -> Transform:
    """The recording at its format's rate (8 kHz; G.722 16 kHz) as a headerless PBX file named ``*suffix`` (written as
    the tests write them; G.729 by bcg729), read back by the product's own decoder, as ``ser analyze`` reads it."""
    rate = HEADERLESS[suffix][1] if suffix in HEADERLESS else 8000

    def apply(signal: np.ndarray, sr: int, recording_id: str) -> tuple[np.ndarray, int]:
        narrow = np.clip(resample(signal, sr, rate), -1.0, 1.0)
        with tempfile.TemporaryDirectory(prefix="ser-unseen-") as folder:
            path = Path(folder) / f"call{suffix}"
            path.write_bytes(encode_g729(narrow) if suffix == ".g729" else headerless(narrow, suffix))
            decoded, decoded_sr = decode_channels(path)
        return decoded.mean(axis=1).astype(np.float32), decoded_sr

    return apply


class Chain:
    """Transforms applied in order, with `Condition.apply`'s signature: the pipeline's feature path takes it."""

    def __init__(self, *transforms: Transform) -> None:
        self.transforms = transforms

    def apply(self, signal: np.ndarray, sr: int, recording_id: str) -> tuple[np.ndarray, int]:
        for transform in self.transforms:
            signal, sr = transform(signal, sr, recording_id)
        return np.asarray(signal, dtype=np.float32), sr


ULAW_8K = channel([{"resample": 8000}, {"codec": "ulaw"}])
# Each: a Chain, or a list of channel steps in params.yaml's syntax (run as the pipeline's own Condition).
CHAINS: dict[str, Chain | list[dict] | None] = {
    "clean": None,
    "clipped: loudest 5 % of samples cut": Chain(augmentation(am.ClippingDistortion(5, 5, p=1.0))),
    "overdriven handset (tanh 0.5), μ-law 8 kHz": Chain(augmentation(am.TanhDistortion(0.5, 0.5, p=1.0)), ULAW_8K),
    "level falls 12 dB in mid-utterance": [{"level_change": {"db": -12, "ramp_s": 0.3, "at": 0.5}}],
    "mains hum 50 Hz at -20 dB": Chain(hum(-20.0)),
    "echo 150 ms at -6 dB, A-law 8 kHz": Chain(echo(0.15, -6.0), channel([{"resample": 8000}, {"codec": "alaw"}])),
    "brown noise 10 dB SNR": [{"noise": {"kind": "brown", "snr_db": 10}}],
    "babble 20 dB SNR, μ-law 8 kHz": [
        {"noise": {"kind": "babble", "snr_db": 20}},
        {"resample": 8000},
        {"codec": "ulaw"},
    ],
    "pink noise 15 dB SNR, GSM 06.10": [
        {"noise": {"kind": "pink", "snr_db": 15}},
        {"resample": 8000},
        {"codec": "gsm"},
    ],
    "white noise 20 dB SNR, AMR-NB 7.95 kb/s": [
        {"noise": {"kind": "white", "snr_db": 20}},
        {"resample": 8000},
        {"codec": {"name": "amr_nb", "bitrate": 7950}},
    ],
    "Opus 6 kb/s, 8 kHz": [{"resample": 8000}, {"codec": {"name": "opus", "bitrate": 6000}}],
    "MP3 8 kb/s, 8 kHz": [{"resample": 8000}, {"codec": {"name": "mp3", "bitrate": 8000}}],
    "AAC 16 kb/s, 8 kHz (M4A storage)": [{"resample": 8000}, {"codec": {"name": "aac", "bitrate": 16000}}],
    "IMA ADPCM 8 kHz": [{"resample": 8000}, {"codec": "ima_adpcm"}],
    "μ-law 8 kHz, 5 % of 20 ms packets lost": [{"resample": 8000}, {"codec": "ulaw"}, {"packet_loss": {"rate": 0.05}}],
    "handset tilt -6 dB, 300-3400 Hz, μ-law 8 kHz": [
        {"tilt": {"db": -6}},
        {"resample": 8000},
        {"bandpass": {"low_hz": 300, "high_hz": 3400}},
        {"codec": "ulaw"},
    ],
    "small room (RT60 0.3 s), μ-law 8 kHz": [
        {"reverb": {"rt60_s": 0.3, "direct_ratio": 2}},
        {"resample": 8000},
        {"codec": "ulaw"},
    ],
    "48 kHz recording": [{"resample": 48000}],
    # below the telephone rate: Dialogic VOX recorders often store 6 kHz; 4 kHz keeps only the band under 2 kHz
    "6 kHz recording (a VOX logger's rate)": [{"resample": 6000}],
    "4 kHz recording": [{"resample": 4000}],
    "music behind the caller, 15 dB SNR": Chain(music(15.0)),
    "music behind the caller, 15 dB SNR, μ-law 8 kHz": Chain(music(15.0), ULAW_8K),
    # a mobile caller in poor coverage: AMR-NB's lowest mode
    "AMR-NB 4.75 kb/s, 8 kHz": [{"resample": 8000}, {"codec": {"name": "amr_nb", "bitrate": 4750}}],
    # a real call is coded more than once: the mobile leg, the carrier's G.711, the recorder's MP3
    "tandem: AMR-NB 7.95 kb/s, then μ-law, then MP3 16 kb/s": [
        {"resample": 8000},
        {"codec": {"name": "amr_nb", "bitrate": 7950}},
        {"codec": "ulaw"},
        {"codec": {"name": "mp3", "bitrate": 16000}},
    ],
    # other speakers: another rate or pitch, by Signalsmith Stretch (audiomentations' default); session 44 tried
    # training copies played 0.9-1.1 times as fast (the `speed` step) against them: not kept
    "slower speaker: tempo 0.85 (Signalsmith Stretch)": Chain(augmentation(am.TimeStretch(0.85, 0.85, False, p=1.0))),
    "faster speaker: tempo 1.15 (Signalsmith Stretch)": Chain(augmentation(am.TimeStretch(1.15, 1.15, False, p=1.0))),
    "lower voice: pitch -3 semitones (Signalsmith Stretch)": Chain(augmentation(am.PitchShift(-3, -3, p=1.0))),
    "higher voice: pitch +3 semitones (Signalsmith Stretch)": Chain(augmentation(am.PitchShift(3, 3, p=1.0))),
    "compressor 4:1, 20 dB under the peak (5 / 100 ms)": Chain(compressed(20.0, 4.0, 5.0, 100.0)),
    "limiter 20:1, 12 dB under the peak (1 / 100 ms), μ-law 8 kHz": Chain(compressed(12.0, 20.0, 1.0, 100.0), ULAW_8K),
    "G.726 32 kb/s, 8 kHz (Asterisk's raw g726-32 file)": Chain(stored_as(".g726-32")),
    "G.726 16 kb/s, 8 kHz (Asterisk's raw g726-16 file)": Chain(stored_as(".g726-16")),
    "Dialogic VOX ADPCM, 8 kHz (raw .vox file)": Chain(stored_as(".vox")),
    # a headset on Bluetooth's hands-free profile, wide-band (mSBC), and an old VoIP leg at 6.3 kb/s
    "Bluetooth headset, wide-band (mSBC, 16 kHz)": Chain(coded("sbc", 16000, options={"msbc": "1"})),
    "G.723.1 6.3 kb/s, 8 kHz": Chain(coded("g723_1", 8000, 6300)),
    # wide-band "HD voice" of SIP phones and PBXs, stored as Asterisk's raw g722
    "G.722 64 kb/s, 16 kHz (raw .g722 file)": Chain(stored_as(".g722")),
    # most smartphones and softphones suppress noise before the codec (rows only where pyrnnoise is installed:
    # requirements-dev-nodeps.txt)
    **(
        {
            "noise suppression (RNNoise) on the clean recording": Chain(suppressed(None)),
            "white noise 10 dB SNR, then noise suppression (RNNoise)": Chain(suppressed("white")),
            "babble 10 dB SNR, then noise suppression (RNNoise)": Chain(suppressed("babble")),
            "white noise 10 dB SNR, then noise suppression (RNNoise), AMR-NB 12.2 kb/s": Chain(
                suppressed("white"), channel([{"resample": 8000}, {"codec": {"name": "amr_nb", "bitrate": 12200}}])
            ),
        }
        if importlib.util.find_spec("pyrnnoise")
        else {}
    ),
    **({"G.729 8 kb/s (raw .g729 file, encoded by bcg729)": Chain(stored_as(".g729"))} if g729.library() else {}),
}
CONDITIONS: dict[str, Chain | None] = {
    name: Chain(channel(chain)) if isinstance(chain, list) else chain for name, chain in CHAINS.items()
}


def features(job: tuple[str, Path]) -> np.ndarray | str:
    """The features of one recording through one condition (the pipeline's own path), or why it cannot be heard."""
    name, path = job
    try:
        return features_of_recording(path, FeatureConfig(), CONDITIONS[name])
    except SerError as error:
        return str(error)


def recordings(paths: list[Path] | None) -> pd.DataFrame:
    """Recordings to hear (index: file path; column label, None where the name is not an EmoDB id).

    Without paths: the pipeline's test speakers. With paths (files or folders): those recordings, e.g. your own
    calls or another corpus; their answers are compared with their clean answers, and with labels only where the
    file name is an EmoDB id.
    """
    if not paths:
        manifest = pd.read_csv(ROOT / TEST_MANIFEST)
        return pd.DataFrame(
            {"label": manifest["label"].to_list()}, index=[ROOT / WAV_DIR / f"{i}.wav" for i in manifest["id"]]
        )
    files = sorted(f for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file())
    if not files:
        raise SystemExit(f"no recordings under {', '.join(map(str, paths))}")
    labels = [emodb.LABELS[emodb.parse_id(f.stem).emotion_code] if emodb.is_valid_id(f.stem) else None for f in files]
    return pd.DataFrame({"label": labels}, index=files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", help="conditions whose name starts with one of these")
    parser.add_argument("--recordings", nargs="+", type=Path, help="files or folders instead of the test speakers")
    args = parser.parse_args()
    names = [n for n in CONDITIONS if n == "clean" or not args.only or any(n.startswith(o) for o in args.only)]
    artifact = ModelArtifact.load(ROOT / MODEL_DIR)
    table = recordings(args.recordings)
    jobs = [(name, path) for name in names for path in table.index]
    for name in names:  # a broken chain fails in seconds, not after minutes in a worker
        features((name, jobs[0][1]))
    rows: dict[str, dict[Path, np.ndarray]] = {name: {} for name in names}
    unheard: dict[Path, str] = {}
    with ProcessPoolExecutor(2) as pool:
        for (name, path), x in zip(jobs, pool.map(features, jobs, chunksize=8), strict=True):
            if isinstance(x, str):
                unheard.setdefault(path, f"{name}: {x}")
            rows[name][path] = x
    for path, reason in unheard.items():
        print(f"skipped {path}: {reason}")
    table = table.drop(index=list(unheard))
    if table.empty:
        raise SystemExit("no recording could be heard")
    labelled = table["label"].notna().to_numpy()
    truth = table["label"][labelled].astype(int).to_numpy()
    what = "the test speakers" if not args.recordings else "the given recordings"
    print(f"the served model ({artifact.version}) on {what}: {len(table)} recordings, {labelled.sum()} labelled")
    print(f"{'condition':52s} {'accuracy':>8s} {'UAR':>6s} {'same as clean':>13s}")
    answers = {}
    for name in names:
        x = np.vstack([rows[name][path] for path in table.index])
        answers[name] = artifact.predict_proba(x).argmax(axis=1)
        same = float(np.mean(answers[name] == answers["clean"]))
        if labelled.any():
            metrics = classification_metrics(truth, answers[name][labelled])
            scores = f"{metrics['accuracy']:8.3f} {metrics['uar']:6.3f}"
        else:
            scores = f"{'-':>8s} {'-':>6s}"
        print(f"{name:52s} {scores} {same:13.3f}", flush=True)


if __name__ == "__main__":
    main()
