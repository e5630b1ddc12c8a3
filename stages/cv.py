"""DVC stage: leave-one-speaker-out CV of the candidate models on the training speakers only."""

from typing import Any

import pandas as pd

from ser import stage
from ser.cv import best_candidate, loso_scores
from ser.dataset import join
from ser.paths import CV_RESULTS, CV_SUMMARY, FEATURES_FILE, TRAIN_MANIFEST
from ser.split import read_manifest


def main(params: dict[str, Any]) -> None:
    p = params["cv"]
    x, y, speakers = join(read_manifest(TRAIN_MANIFEST), pd.read_parquet(FEATURES_FILE))
    results = loso_scores(
        p["candidates"], x, y, speakers, seed=int(p["seed"]), n_jobs=int(params["resources"]["workers"])
    )
    CV_RESULTS.parent.mkdir(parents=True, exist_ok=True)
    results.to_csv(CV_RESULTS, index=False)
    best = best_candidate(results, p["metric"])
    row = results.set_index("candidate").loc[best]
    summary = {
        "metric": p["metric"],
        "best_candidate": best,
        "best_spec": p["candidates"][best],
        "speakers": sorted(set(speakers)),
        **{f"best_{m}": float(row[m]) for m in row.index if m.endswith(("_mean", "_std"))},
    }
    stage.write_json(CV_SUMMARY, summary)
    stage.log.info("best candidate by %s: %s (%.3f)", p["metric"], best, row[f"{p['metric']}_mean"])


if __name__ == "__main__":
    stage.run(main)
