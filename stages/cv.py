"""DVC stage: leave-one-speaker-out CV of the candidate models on the training speakers only.

Models learn from the clean recordings and their ``channels.train`` copies; each held-out speaker is scored on
clean audio and on every training and evaluation condition. The winner is chosen on ``cv.metric`` averaged over
all of them.
"""

from typing import Any

from ser.audio.channels import condition_lists
from ser.data.split import read_manifest
from ser.models.conditioned import conditioned_data
from ser.models.cv import best_candidate, loso_scores
from ser.models.plots import plot_cv
from ser.pipeline import stage
from ser.pipeline.paths import CV_RESULTS, CV_SUMMARY, TRAIN_MANIFEST


def main(params: dict[str, Any]) -> None:
    p = params["cv"]
    train_conditions, score_conditions = condition_lists(params["channels"])
    data = conditioned_data(read_manifest(TRAIN_MANIFEST), train_conditions, score_conditions)
    results = loso_scores(p["candidates"], data, seed=int(p["seed"]), n_jobs=int(params["resources"]["workers"]))
    CV_RESULTS.parent.mkdir(parents=True, exist_ok=True)
    results.to_csv(CV_RESULTS, index=False)
    plot_cv(results, p["metric"], score_conditions)
    best = best_candidate(results, p["metric"])
    row = results.set_index("candidate").loc[best]
    summary = {
        "metric": p["metric"],
        "best_candidate": best,
        "best_spec": p["candidates"][best],
        "speakers": sorted(set(data.speakers)),
        "train_conditions": list(train_conditions),
        "score_conditions": list(score_conditions),
        **{
            f"best_{m}": float(row[m])
            for m in row.index
            if m.startswith(tuple(f"{s}_" for s in ("accuracy", "uar", "macro_precision", "macro_f1")))
        },
    }
    stage.write_json(CV_SUMMARY, summary)
    stage.log.info(
        "best candidate by %s over %d conditions: %s (%.3f; clean %.3f)",
        p["metric"],
        len(score_conditions),
        best,
        row[f"{p['metric']}_mean"],
        row.get(f"{p['metric']}_clean", float("nan")),
    )


if __name__ == "__main__":
    stage.run(main)
