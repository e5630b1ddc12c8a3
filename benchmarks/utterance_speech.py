"""Does `/pred` hear speech in an upload? ``speech_heard`` of single utterances (``ser.inference.utterances``).

`/pred` and `ser predict` answer every decodable upload, and say with ``speech_heard`` (and a ``warning``) when the
speech detector found no utterance in it by the ``analysis:`` rules and heard less than 0.3 s of speech in it (the
check, ``ser.inference.vad.hears_speech``): hold music, a ring-back tone or noise gets an emotion too, which means
nothing. ``--check-only``: the check alone (``speech_heard`` before session 34, and of ``?utterances=whole``).

This script prints, per channel condition of params.yaml, the share of EmoDB utterances with ``speech_heard`` false
and, for clips without speech (harmonic melodies, ring-back and busy tones, DTMF, pink/white/brown noise, mains hum,
faint line noise; seeded), the share with it true. Conditions that add babble (other voices) are left out of the
clips' figure: babble is speech.

``--speakers train`` (the default; the threshold and duration were chosen on these) or ``test`` (03 + 08 by default,
read only here). Needs the split (`dvc repro split`). Usage:
python benchmarks/utterance_speech.py [--speakers train|test] [--check-only] [--threshold 0.3] [--enough-s 0.3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ser  # noqa: F401  (first: the SIMD pins)

# isort: split

import numpy as np
from joblib import Parallel, delayed

from ser.audio import decoding
from ser.audio.channels import Condition, conditions_from_params
from ser.data.split import read_manifest
from ser.features.dataset import BabblePool, SameVoicePool, heard_through
from ser.features.extractor import FeatureConfig
from ser.inference.analysis_config import AnalysisConfig
from ser.inference.utterances import speech_heard, utterances
from ser.inference.vad import hears_speech
from ser.pipeline.params import load_params
from ser.pipeline.paths import TEST_MANIFEST, TRAIN_MANIFEST, WAV_DIR
from tests.speech import busy, dtmf, melody, pink_noise, ringback

SR = 16_000
BABBLE_STEPS = ("babble",)


def clips_without_speech(seed: int = 5) -> list[tuple[str, np.ndarray]]:
    """Music, tones, DTMF and noise of 2-8 s each (70 clips)."""
    rng = np.random.default_rng(seed)

    def seconds() -> float:
        return float(rng.uniform(2, 8))

    clips = [(f"melody{i}", melody(seconds(), 1000 + i)) for i in range(30)]
    for i in range(5):
        t = np.arange(int(SR * seconds())) / SR
        brown = np.cumsum(rng.standard_normal(int(SR * seconds())))
        brown -= np.linspace(brown[0], brown[-1], len(brown))
        clips += [
            (f"ringback{i}", ringback(seconds())),
            (f"busy{i}", busy(seconds())),
            (f"dtmf{i}", dtmf("".join(rng.choice(list("1590#"), 6)))),
            (f"pink{i}", pink_noise(seconds(), 0.05, 200 + i)),
            (f"white{i}", rng.standard_normal(int(SR * seconds())) * 0.05),
            (f"brown{i}", brown / np.abs(brown).max() * 0.3),
            (f"hum{i}", 0.2 * np.sin(2 * np.pi * 50 * t) + 0.1 * np.sin(2 * np.pi * 150 * t)),
            (f"line{i}", rng.standard_normal(4 * SR) * 0.002),
        ]
    return [(name, np.asarray(clip, dtype=np.float32)) for name, clip in clips]


def _through(signal: np.ndarray, condition: Condition | None, name: str) -> np.ndarray:
    if condition is None:
        return signal
    heard, sr = condition.apply(signal, SR, name)
    return decoding.resample(heard, sr, SR)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--speakers", choices=["train", "test"], default="train")
    parser.add_argument("--threshold", type=float, default=0.3)
    parser.add_argument("--enough-s", type=float, default=0.3)
    parser.add_argument("--check-only", action="store_true", help="the check alone, without the utterances found")
    args = parser.parse_args()
    params = load_params(Path("params.yaml"))
    rules = AnalysisConfig.from_params(params.get("analysis") or {})
    min_samples = FeatureConfig.from_params(params["features"]).min_samples
    defaults = (parser.get_default("threshold"), parser.get_default("enough_s"))
    if (args.threshold, args.enough_s) != defaults and not args.check_only:
        parser.error("--threshold and --enough-s change the check alone: use them with --check-only")

    def speech_in(signal: np.ndarray) -> bool:
        if args.check_only:
            return hears_speech(signal, SR, args.threshold, args.enough_s)
        return speech_heard(signal, SR, utterances(signal, SR, rules, min_samples))

    channels = params["channels"]
    names = [*channels["train"], *channels["eval"]]
    ids = list(read_manifest(TRAIN_MANIFEST if args.speakers == "train" else TEST_MANIFEST)["id"])
    babble = BabblePool([WAV_DIR / f"{r}.wav" for r in read_manifest(TRAIN_MANIFEST)["id"]])
    partners = SameVoicePool(sorted(WAV_DIR.glob("*.wav")))  # join: the recording's own speaker and emotion
    conditions = {None: None, **{c.name: c for c in conditions_from_params(channels, names, babble, partners)}}

    def utterance(rid: str, name: str | None) -> bool:
        return speech_in(heard_through(WAV_DIR / f"{rid}.wav", conditions[name], SR))

    def clip(signal: np.ndarray, clip_name: str, name: str | None) -> bool:
        return speech_in(_through(signal, conditions[name], clip_name))

    clips = clips_without_speech()
    with Parallel(n_jobs=2) as parallel:
        how = f"the check alone: threshold {args.threshold}, {args.enough_s} s" if args.check_only else "as served"
        print(f"{args.speakers} speakers ({len(ids)} utterances), speech_heard {how}")
        print(f"{'condition':<18} {'utterances missed':>18} {'clips taken for speech':>24}")
        missed_all, taken_all = [], []
        for name in conditions:
            heard = parallel(delayed(utterance)(rid, name) for rid in ids)
            taken = parallel(delayed(clip)(signal, clip_name, name) for clip_name, signal in clips)
            missed = 1 - float(np.mean(heard))
            babbly = name is not None and any(step in str(channels["conditions"][name]) for step in BABBLE_STEPS)
            missed_all.append(missed)
            taken_text = "(babble: speech)" if babbly else f"{np.mean(taken):.1%} ({sum(taken)}/{len(taken)})"
            if not babbly:
                taken_all += taken
            print(f"{name or 'clean':<18} {missed:>18.1%} {taken_text:>24}", flush=True)
        print(f"{'mean':<18} {np.mean(missed_all):>18.2%} {np.mean(taken_all):>23.1%}")


if __name__ == "__main__":
    main()
