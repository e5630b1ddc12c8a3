"""Diarisation of short mono calls: each of `benchmarks/calls.py`'s synthetic calls (same pairs, seeds and
fillers) cut at pauses between turns into pieces of about `--seconds`, each analysed as a call of its own.

Prints, per condition (16 kHz PCM and 8 kHz mu-law), the whole calls' mean diarisation error rate and the pieces':
mean, median, max and how many are above 0.10 and 0.15 (pieces that hold one voice only are left out).
Needs a trained project (`dvc repro`). Usage: python benchmarks/short_calls.py [--seconds 60] [--pairs 03,08 ...]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ser  # noqa: F401  (first: the SIMD pins)

# isort: split

import numpy as np

from benchmarks.calls import PAIRS, ROOT, SR, build_call, encode
from ser.inference.analysis_config import AnalysisConfig
from ser.inference.calls import analyze
from ser.inference.diarisation import Turn, diarisation_error_rate
from ser.inference.predictor import Predictor

CONDITIONS = ("16k", "ulaw")


def cut_points(call: dict, seconds: float) -> list[float]:
    """Where to cut a call (s): in the middle of the first pause of at least 0.2 s between utterances and fillers
    once ``seconds`` have passed since the last cut; a last piece shorter than half of that joins the one before."""
    spans = sorted([(start, end) for start, end, _, _ in call["turns"]] + list(call["other"]))
    pauses, reach = [], 0.0
    for start, end in spans:
        if start > reach + 0.2:
            pauses.append((reach + start) / 2)
        reach = max(reach, end)
    points, due = [0.0], seconds
    for middle in pauses:
        if middle >= due:
            points.append(middle)
            due = middle + seconds
    total = len(call["mono"]) / SR
    if len(points) > 1 and total - points[-1] < seconds / 2:
        points.pop()
    return [*points, total]


def der_of(data: bytes, reference: list[Turn], predictor: Predictor, config: AnalysisConfig) -> float:
    timeline = analyze(data, predictor, config)["timeline"]
    return diarisation_error_rate(reference, [(i["start_s"], i["end_s"], i["speaker"]) for i in timeline])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="about how long each piece lasts")
    parser.add_argument("--pairs", nargs="+", default=PAIRS)
    args = parser.parse_args()
    predictor = Predictor.load(ROOT / "models/model")
    predictor.warm_up()
    config = AnalysisConfig()
    names = sorted(p.stem for p in (ROOT / "data/raw/wav").glob("*.wav"))
    whole: dict[str, list[float]] = {c: [] for c in CONDITIONS}
    pieces: dict[str, list[tuple[float, int, float]]] = {c: [] for c in CONDITIONS}  # (seconds, utterances, DER)
    for seed, pair in enumerate(args.pairs):  # the seeds benchmarks/calls.py gives the same pairs
        a, b = pair.split(",")
        call = build_call({s: [n for n in names if n.startswith(s)] for s in (a, b)}, seed)
        points = cut_points(call, args.seconds)
        for condition in CONDITIONS:
            reference = [(start, end, lane) for start, end, lane, _ in call["turns"]]
            whole[condition].append(der_of(encode(call["mono"], condition), reference, predictor, config))
            ders = []
            for low, high in itertools.pairwise(points):
                turns = [(s - low, e - low, lane) for s, e, lane, _ in call["turns"] if s >= low and e <= high]
                if len({lane for _, _, lane in turns}) < 2:
                    continue
                piece = call["mono"][round(low * SR) : round(high * SR)]
                ders.append(der_of(encode(piece, condition), turns, predictor, config))
                pieces[condition].append((high - low, len(turns), ders[-1]))
            print(f"{pair} {condition}: whole call {whole[condition][-1]:.3f}; pieces "
                  + " ".join(f"{d:.3f}" for d in ders), flush=True)  # fmt: skip
    for condition in CONDITIONS:
        seconds, count, der = (np.array(column) for column in zip(*pieces[condition], strict=True))
        print(f"{condition}: whole calls DER mean {np.mean(whole[condition]):.3f}; {len(der)} pieces of "
              f"{seconds.mean():.0f} s ({seconds.min():.0f}-{seconds.max():.0f}), {count.mean():.1f} utterances each: "
              f"DER mean {der.mean():.3f}, median {np.median(der):.3f}, max {der.max():.3f}, "
              f"above 0.10: {np.sum(der > 0.10)}, above 0.15: {np.sum(der > 0.15)}")  # fmt: skip


if __name__ == "__main__":
    main()
