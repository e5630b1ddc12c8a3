"""Accuracy on unseen speaker pairs (by default five male+female ones): one `dvc exp run` per pair in a throw-away copy.

Prints, for clean audio and for each evaluation channel condition, each pair's accuracy, the mean accuracy over
the pairs and the UAR of all their pooled predictions (issue #5's protocol, per condition since issue #14). Every
choice is the current params.yaml's; nothing is tuned per pair.
Then the same figures of the labelled per-speaker-normalisation variant (reports/speaker_norm/), which are never
headline figures.
Usage: SER_EMODB_SOURCE=../shared/emodb/download.zip python benchmarks/speaker_pairs.py [--pairs 03,08 10,14 ...]
       [--save run.json]       (each pair's figures and confusion counts, to merge runs of other pairs later)
       python benchmarks/speaker_pairs.py --merge run1.json run2.json   (the tables of saved runs, pooled)
       [--with-reports]        (also the pair of this project's own `dvc repro`, from reports/)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ser  # noqa: F401  (first: the SIMD pins)

# isort: split

import numpy as np
import yaml

from ser.models.families import resolve_spec
from tests.project_copy import ROOT, copy_project, edit_params, run, venv_env

DEFAULT_PAIRS = ["03,08", "10,14", "11,09", "12,13", "15,16"]
NAMES = ["neutral", "anger", "boredom", "disgust", "fear", "happiness", "sadness"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", nargs="+", default=DEFAULT_PAIRS)
    parser.add_argument(
        "--full-cv",
        action="store_true",
        help="run the whole CV grid per pair (the model trained does not depend on it unless model.family is auto)",
    )
    parser.add_argument("--save", type=Path, help="write each pair's figures and confusion counts to this JSON file")
    parser.add_argument("--merge", type=Path, nargs="+", help="print the tables of saved runs instead of running")
    parser.add_argument(
        "--with-reports",
        action="store_true",
        help="with --merge: add the test pair of this project's last `dvc repro` (reports/), e.g. 03,08",
    )
    args = parser.parse_args()
    if args.merge:
        _report_saved(args.merge, _pair_from_reports(ROOT) if args.with_reports else {})
        return
    archive = os.environ.get("SER_EMODB_SOURCE")
    if not archive or not Path(archive).is_file():
        sys.exit("error: set SER_EMODB_SOURCE to the EmoDB download.zip")
    per_pair: dict[str, dict] = {}
    confusions: dict[str, dict[str, np.ndarray]] = {}
    variant_rows, variant_hits = [], []
    with tempfile.TemporaryDirectory() as tmp:
        project = copy_project(Path(tmp) / "project")
        # The copy's own code, not the editable install's working tree, which may change while this runs.
        env = venv_env(SER_EMODB_SOURCE=str(Path(archive).resolve()), PYTHONPATH=str(project))
        params = yaml.safe_load((project / "params.yaml").read_text())
        if not args.full_cv and params["model"]["family"] != "auto":
            # The figures are the configured model's; the CV grid only names a winner, which `train` ignores
            # unless model.family is auto. One candidate (an MLP ensemble's first network alone) keeps each pair's
            # run to minutes.
            spec = {k: v for k, v in resolve_spec(params["model"], strict=False).items() if k != "seed"}
            if "members" in spec:
                spec["members"] = 1
            edit_params(project, cv={"candidates": {"configured_model": spec}})
            run(["git", "commit", "-qam", "benchmark: one CV candidate"], project, env)
        for pair in args.pairs:
            speakers = json.dumps(pair.split(","))
            result = run(["dvc", "exp", "run", "-S", f"split.test_speakers={speakers}"], project, env, timeout=1800)
            if result.returncode != 0:
                sys.exit(f"error: pair {pair} failed:\n{result.stderr[-2000:]}")
            per_pair[pair] = json.loads((project / "reports/conditions.json").read_text())["conditions"]
            counts = json.loads((project / "reports/conditions_confusion.json").read_text())["confusion"]
            for condition, matrix in counts.items():
                confusions.setdefault(condition, {})[pair] = np.array(matrix)
            print(f"{pair}: " + ", ".join(f"{c} {s['accuracy']:.3f}" for c, s in per_pair[pair].items()), flush=True)
            variant = json.loads((project / "reports/speaker_norm/metrics.json").read_text())
            variant_rows.append((pair, variant["accuracy"], variant["uar"], variant["n"]))
            variant_hits.append(_hits_and_support(variant))
            if args.save:  # after every pair, so an interrupted run keeps the pairs it finished
                _save(args.save, per_pair, confusions, variant_rows, variant_hits)
    _report_conditions(per_pair, confusions)
    hits = np.sum([h for h, _ in variant_hits], axis=0)
    support = np.sum([n for _, n in variant_hits], axis=0)
    present = support > 0
    _report(
        "labelled variant: per-speaker normalisation (not a headline figure)",
        variant_rows,
        float(hits.sum() / support.sum()),
        float(np.mean(hits[present] / support[present])),
    )


def _save(
    path: Path,
    per_pair: dict[str, dict],
    confusions: dict[str, dict[str, np.ndarray]],
    variant_rows: list[tuple[str, float, float, int]],
    variant_hits: list[tuple[np.ndarray, np.ndarray]],
) -> None:
    """Every finished pair's figures, confusion counts and labelled-variant figures, as JSON."""
    pairs = {
        pair: {
            "conditions": per_pair[pair],
            "confusion": {condition: confusions[condition][pair].tolist() for condition in confusions},
            "variant": {"row": list(row), "hits": hits.tolist(), "support": support.tolist()},
        }
        for pair, row, (hits, support) in zip(per_pair, variant_rows, variant_hits, strict=True)
    }
    path.write_text(json.dumps({"pairs": pairs}, indent=1))


def _pair_from_reports(root: Path) -> dict[str, dict]:
    """The pipeline's own test pair in the saved-run format, from its reports/ and params.yaml."""
    pair = ",".join(yaml.safe_load((root / "params.yaml").read_text())["split"]["test_speakers"])
    reports = root / "reports"
    variant = json.loads((reports / "speaker_norm/metrics.json").read_text())
    hits, support = _hits_and_support(variant)
    return {
        pair: {
            "conditions": json.loads((reports / "conditions.json").read_text())["conditions"],
            "confusion": json.loads((reports / "conditions_confusion.json").read_text())["confusion"],
            "variant": {
                "row": [pair, variant["accuracy"], variant["uar"], variant["n"]],
                "hits": hits.tolist(),
                "support": support.tolist(),
            },
        }
    }


def _report_saved(paths: list[Path], extra: dict[str, dict] | None = None) -> None:
    """The tables of saved runs and ``extra`` pairs (a pair given twice: the later figures)."""
    pairs: dict[str, dict] = dict(extra or {})
    for path in paths:
        pairs.update(json.loads(path.read_text())["pairs"])
    per_pair = {pair: saved["conditions"] for pair, saved in pairs.items()}
    confusions: dict[str, dict[str, np.ndarray]] = {}
    for pair, saved in pairs.items():
        for condition, matrix in saved["confusion"].items():
            confusions.setdefault(condition, {})[pair] = np.array(matrix)
    _report_conditions(per_pair, confusions)
    hits = np.sum([saved["variant"]["hits"] for saved in pairs.values()], axis=0)
    support = np.sum([saved["variant"]["support"] for saved in pairs.values()], axis=0)
    present = support > 0
    _report(
        "labelled variant: per-speaker normalisation (not a headline figure)",
        [tuple(saved["variant"]["row"]) for saved in pairs.values()],
        float(hits.sum() / support.sum()),
        float(np.mean(hits[present] / support[present])),
    )


def _pooled(matrices: list[np.ndarray]) -> tuple[float, float]:
    """Accuracy and UAR of the predictions of several splits pooled, from their confusion counts."""
    total = np.sum(matrices, axis=0)
    support = total.sum(axis=1)
    present = support > 0
    return float(np.trace(total) / total.sum()), float(np.mean(np.diag(total)[present] / support[present]))


def _report_conditions(per_pair: dict[str, dict], confusions: dict[str, dict[str, np.ndarray]]) -> None:
    """One row per condition: each pair's accuracy, their mean, pooled accuracy and UAR."""
    pairs = list(per_pair)
    conditions = list(next(iter(per_pair.values())))
    print("\nheadline model (one utterance at a time), accuracy per pair and condition")
    print(f"{'condition':<14} " + " ".join(f"{p:>7}" for p in pairs) + f" {'mean':>7} {'pooled':>7} {'UAR':>7}")
    means = []
    for condition in conditions:
        accuracies = [per_pair[p][condition]["accuracy"] for p in pairs]
        pooled_accuracy, pooled_uar = _pooled(list(confusions[condition].values()))
        means.append(np.mean(accuracies))
        cells = " ".join(f"{a:>7.3f}" for a in accuracies)
        print(f"{condition:<14} {cells} {np.mean(accuracies):>7.3f} {pooled_accuracy:>7.3f} {pooled_uar:>7.3f}")
    print(f"lowest mean accuracy over conditions: {min(means):.3f} ({conditions[int(np.argmin(means))]})")


def _hits_and_support(metrics: dict) -> tuple[np.ndarray, np.ndarray]:
    """Correct predictions and support per emotion, recovered from a metrics file's per-class recall."""
    support = np.array([metrics["per_class"][name]["support"] for name in NAMES])
    hits = np.rint([metrics["per_class"][name]["recall"] * n for name, n in zip(NAMES, support, strict=True)])
    return hits, support


def _report(title: str, rows: list[tuple[str, float, float, int]], pooled_accuracy: float, pooled_uar: float) -> None:
    print(f"\n{title}")
    print(f"{'test speakers':<14} {'accuracy':>9} {'UAR':>7} {'n':>5}")
    for pair, accuracy, uar, n in rows:
        print(f"{pair:<14} {accuracy:>9.3f} {uar:>7.3f} {n:>5}")
    others = [r for r in rows if r[0] != "03,08"]
    print(f"mean accuracy over {len(rows)} pairs: {np.mean([r[1] for r in rows]):.3f}")
    if others and len(others) < len(rows):  # the default pair is among them
        print(f"mean accuracy over the {len(others)} pairs other than 03,08: {np.mean([r[1] for r in others]):.3f}")
    print(f"pooled over all pairs: accuracy {pooled_accuracy:.3f}, UAR {pooled_uar:.3f}")


if __name__ == "__main__":
    main()
