"""Sentences the model never heard: EmoDB's ten texts held out in turn, per channel condition.

EmoDB's ten actors all speak the same ten sentences, so leave-one-speaker-out CV and the test speakers score
recordings of sentences the model heard, word for word, from every training speaker. Callers say other things. This
script measures what hearing the sentence is worth, on the pipeline's cached feature tables (`dvc repro` first):

1. **CV on the training speakers.** The ten texts go into five groups of two. For each held-out speaker and group,
   a CV candidate (by default the served spec's single network) is trained on the other speakers' recordings of the
   other eight texts (*texts unseen*) and, as the control, on as many of the other speakers' recordings drawn at
   random from all ten texts (*texts seen*: the same amount of training data). The held-out speaker's recordings of
   the group are scored clean and through every scored condition; UAR per speaker over its five groups, then the
   mean over speakers; then each emotion's recall over all held-out recordings, averaged over the conditions.
2. **The test speakers** (data/split/test.csv). The final model's spec (params.yaml ``model``) trained on the training
   speakers' recordings of eight texts scores the test speakers' recordings of the other two, group by group,
   and the same against a random draw of as many recordings; accuracy and UAR pooled over the test recordings, on
   clean audio and each evaluation condition; then each emotion's recall, averaged over the conditions.

Every copy of a recording follows it (its channel-condition copies never cross into another fold). Nothing here
feeds back into training or selection.
Usage: python benchmarks/unseen_texts.py [--seeds 42 7] [--candidate mlp_200_ls_bal] [--skip-cv] [--skip-test]
       (on 2 cores: about 5 min per seed for the CV, 3-4 min for the test speakers)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ser  # noqa: F401  (first: the SIMD pins)

# isort: split

import numpy as np
import yaml
from joblib import Parallel, delayed

from ser.audio.channels import CLEAN, condition_lists
from ser.data.emodb import EMOTIONS
from ser.data.split import read_manifest
from ser.models.conditioned import conditioned_data
from ser.models.cv import ConditionedData
from ser.models.families import build_estimator, resolve_spec
from ser.models.metrics import classification_metrics
from ser.pipeline.paths import TEST_MANIFEST, TRAIN_MANIFEST

ROOT = Path(__file__).resolve().parents[1]
N_GROUPS = 5
MODES = ("unseen", "seen")


def text_groups(texts: np.ndarray, n_groups: int = N_GROUPS) -> list[list[str]]:
    """The sorted distinct texts dealt into ``n_groups`` groups (EmoDB's ten: five groups of two)."""
    distinct = sorted(set(texts))
    if len(distinct) < n_groups:
        raise ValueError(f"{len(distinct)} texts cannot make {n_groups} groups")
    return [distinct[i::n_groups] for i in range(n_groups)]


def training_rows(
    speakers: np.ndarray, texts: np.ndarray, held_out_speakers: set[str], group: list[str], mode: str, seed: int
) -> np.ndarray:
    """Rows to train on when ``held_out_speakers``' recordings of ``group`` are scored.

    ``unseen``: the other speakers' recordings of the other texts. ``seen``: as many of the other speakers'
    recordings, drawn at random (seeded) from every text, the group's included.
    """
    others = ~np.isin(speakers, list(held_out_speakers))
    unseen = np.flatnonzero(others & ~np.isin(texts, group))
    if mode == "unseen":
        rows = unseen
    elif mode == "seen":
        rng = np.random.default_rng([seed, *sorted(int(s) for s in held_out_speakers), *map(ord, "".join(group))])
        rows = np.sort(rng.choice(np.flatnonzero(others), size=len(unseen), replace=False))
    else:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if set(speakers[rows]) & held_out_speakers:
        raise AssertionError("a training fold holds a held-out speaker")
    return rows


def _fit_predict(
    spec: dict[str, Any], data: ConditionedData, train: np.ndarray, score: dict[str, np.ndarray], test: np.ndarray
) -> dict[str, np.ndarray]:
    """Fit ``spec`` on ``train``'s copies in every training condition; predictions for ``test`` per condition."""
    estimator = build_estimator(spec)
    x = np.vstack([data.x[name][train] for name in data.train_conditions])
    estimator.fit(x, np.tile(data.y[train], len(data.train_conditions)))
    return {name: estimator.predict(rows[test]) for name, rows in score.items()}


def _tasks(speaker_sets: list[set[str]], groups: list[list[str]]) -> Iterator[tuple[str, set[str], list[str]]]:
    for mode in MODES:
        for held_out in speaker_sets:
            for group in groups:
                yield mode, held_out, group


def _recalls(metrics: dict[str, Any]) -> dict[str, float]:
    """Each emotion's recall from ``classification_metrics``, for the emotions the truth holds."""
    return {emotion: scores["recall"] for emotion, scores in metrics["per_class"].items() if scores["support"]}


def table_of_training_speakers(
    data: ConditionedData, texts: np.ndarray, spec: dict[str, Any], seed: int, workers: int
) -> tuple[dict, dict]:
    """Per mode and score condition: the held-out speakers' UAR over their five groups, mean over speakers; and per
    mode, each emotion's recall over all held-out speakers' recordings, mean over the conditions."""
    speakers = data.speakers
    groups = text_groups(texts)
    speaker_sets = [{s} for s in sorted(set(speakers))]
    score = {name: data.x[name] for name in data.score_conditions}
    folds, jobs = [], []
    for mode, held_out, group in _tasks(speaker_sets, groups):
        train = training_rows(speakers, texts, held_out, group, mode, seed)
        test = np.flatnonzero(np.isin(speakers, list(held_out)) & np.isin(texts, group))
        folds.append((mode, held_out, test))
        jobs.append(delayed(_fit_predict)(spec, data, train, score, test))
    outcomes = Parallel(n_jobs=workers)(jobs)
    table: dict[str, dict[str, float]] = {}
    recall: dict[str, dict[str, float]] = {}
    for mode in MODES:
        per_condition: dict[str, list[float]] = {name: [] for name in data.score_conditions}
        pooled: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {name: [] for name in data.score_conditions}
        for held_out in speaker_sets:
            done = [
                (test, out) for (m, s, test), out in zip(folds, outcomes, strict=True) if (m, s) == (mode, held_out)
            ]
            rows = np.concatenate([test for test, _ in done])
            for name in data.score_conditions:
                predicted = np.concatenate([out[name] for _, out in done])
                per_condition[name].append(classification_metrics(data.y[rows], predicted)["uar"])
                pooled[name].append((data.y[rows], predicted))
        table[mode] = {name: float(np.mean(values)) for name, values in per_condition.items()}
        per_emotion = [
            _recalls(classification_metrics(*map(np.concatenate, zip(*parts, strict=True))))
            for parts in pooled.values()
        ]
        recall[mode] = {emotion: float(np.mean([r[emotion] for r in per_emotion])) for emotion in per_emotion[0]}
    return table, recall


def table_of_test_speakers(
    train: ConditionedData,
    test: ConditionedData,
    train_texts: np.ndarray,
    test_texts: np.ndarray,
    spec: dict[str, Any],
    seed: int,
    workers: int,
) -> dict:
    """Per mode and condition: accuracy and UAR of all test recordings, each scored by the fit without its text."""
    groups = text_groups(train_texts)
    held_out = set(test.speakers)
    jobs, tests = [], []
    for mode in MODES:
        for group in groups:
            rows = training_rows(
                np.concatenate([train.speakers, test.speakers]),
                np.concatenate([train_texts, test_texts]),
                held_out,
                group,
                mode,
                seed,
            )
            if rows.max() >= len(train.y):
                raise AssertionError("a test recording in a training fold")
            tests.append((mode, np.flatnonzero(np.isin(test_texts, group))))
            jobs.append(delayed(_fit_predict)(spec, train, rows, dict(test.x), tests[-1][1]))
    outcomes = Parallel(n_jobs=workers)(jobs)
    table: dict[str, dict[str, dict[str, float]]] = {}
    for mode in MODES:
        done = [(rows, out) for (m, rows), out in zip(tests, outcomes, strict=True) if m == mode]
        rows = np.concatenate([r for r, _ in done])
        table[mode] = {}
        for name in test.score_conditions:
            predicted = np.concatenate([out[name] for _, out in done])
            truth = test.y[rows]
            metrics = classification_metrics(truth, predicted)
            table[mode][name] = {"accuracy": metrics["accuracy"], "uar": metrics["uar"], **_recalls(metrics)}
    return table


def _print_rows(
    title: str, conditions: list[str], columns: dict[str, dict[str, float]], first: str = "condition"
) -> None:
    print(f"\n{title}")
    print(f"{first:<20}" + "".join(f"{c:>14}" for c in columns) + f"{'unseen - seen':>15}")
    for name in [*conditions, "mean"]:
        values = {c: (np.mean([v[n] for n in conditions]) if name == "mean" else v[name]) for c, v in columns.items()}
        gap = np.mean([values[c] for c in columns if c.startswith("unseen")]) - np.mean(
            [values[c] for c in columns if c.startswith("seen")]
        )
        print(f"{name:<20}" + "".join(f"{values[c]:>14.3f}" for c in columns) + f"{gap:>+15.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--candidate", default="mlp_200_ls_bal", help="the CV candidate of part 1 (params.yaml cv)")
    parser.add_argument("--skip-cv", action="store_true")
    parser.add_argument("--skip-test", action="store_true")
    args = parser.parse_args()
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    workers = int(params["resources"]["workers"])
    train_conditions, score_conditions = condition_lists(params["channels"])
    manifest = read_manifest(TRAIN_MANIFEST)
    texts = manifest["text"].to_numpy()
    data = conditioned_data(manifest, train_conditions, score_conditions)
    print(f"text groups: {text_groups(texts)}; training speakers {sorted(set(data.speakers))}")
    if not args.skip_cv:
        candidate = params["cv"]["candidates"][args.candidate]
        columns, recalls = {}, {}
        for seed in args.seeds:
            spec = resolve_spec({**candidate, "seed": seed})
            table, recall = table_of_training_speakers(data, texts, spec, seed, workers)
            columns.update({f"{mode} {seed}": table[mode] for mode in MODES})
            recalls.update({f"{mode} {seed}": recall[mode] for mode in MODES})
        _print_rows(f"CV UAR, candidate {args.candidate}, seeds {args.seeds}", list(score_conditions), columns)
        title = "CV recall per emotion (all held-out recordings), mean over the conditions"
        _print_rows(title, list(next(iter(recalls.values()))), recalls, "emotion")
    if not args.skip_test:
        test_manifest = read_manifest(TEST_MANIFEST)
        eval_conditions = (CLEAN, *(params["channels"].get("eval") or []))
        test = conditioned_data(test_manifest, (CLEAN,), eval_conditions)
        spec = resolve_spec(params["model"], strict=False)
        table = table_of_test_speakers(
            data, test, texts, test_manifest["text"].to_numpy(), spec, int(spec["seed"]), workers
        )
        speakers = "+".join(sorted(set(test.speakers)))
        for metric in ("accuracy", "uar"):
            columns = {mode: {n: v[metric] for n, v in table[mode].items()} for mode in MODES}
            _print_rows(f"test speakers {speakers}, {metric}, params.yaml model", list(eval_conditions), columns)
        emotions = [e for e in EMOTIONS.values() if e in table["unseen"][CLEAN]]
        columns = {mode: {e: float(np.mean([v[e] for v in table[mode].values()])) for e in emotions} for mode in MODES}
        _print_rows(
            f"test speakers {speakers}, recall per emotion, mean over the conditions", emotions, columns, "emotion"
        )


if __name__ == "__main__":
    main()
