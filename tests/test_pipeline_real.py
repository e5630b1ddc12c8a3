"""The real pipeline on the real EmoDB archive, in a throw-away copy of the project.

Needs the archive through the explicit override SER_EMODB_SOURCE (CI sets it to ../shared/emodb/download.zip).
"""

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from tests.project_copy import copy_project, run, venv_env

ARCHIVE = os.environ.get("SER_EMODB_SOURCE", "")

pytestmark = [
    pytest.mark.real_data,
    pytest.mark.skipif(not ARCHIVE or not Path(ARCHIVE).is_file(), reason="set SER_EMODB_SOURCE to the EmoDB zip"),
]


def ran_stages(output: str) -> list[str]:
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("real") / "project")
    env = venv_env(SER_EMODB_SOURCE=str(Path(ARCHIVE).resolve()))
    result = run(["dvc", "repro"], project, env, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project, env


def test_default_split_is_428_train_107_test(project):
    path, _ = project
    train = pd.read_csv(path / "data/split/train.csv", dtype={"speaker": str})
    test = pd.read_csv(path / "data/split/test.csv", dtype={"speaker": str})
    assert (len(train), len(test)) == (428, 107)
    assert sorted(set(train["speaker"])) == ["09", "10", "11", "12", "13", "14", "15", "16"]


def test_metrics_beat_the_proof_of_concept(project):
    path, env = project
    metrics = json.loads((path / "reports/metrics.json").read_text())
    assert metrics["n"] == 107
    assert metrics["accuracy"] >= 0.61
    shown = run(["dvc", "metrics", "show", "--json"], path, env)
    assert shown.returncode == 0 and "accuracy" in shown.stdout


def test_cv_compares_the_whole_grid(project):
    path, _ = project
    results = pd.read_csv(path / "reports/cv/results.csv")
    assert {"logreg", "rf_50", "rf_200", "xgb_50", "xgb_200", "mlp_50", "mlp_bn_100", "mlp_bn_dropout_200"} <= set(
        results["candidate"]
    )
    assert results["uar_mean"].between(0, 1).all()


def test_second_repro_is_a_no_op(project):
    path, env = project
    result = run(["dvc", "repro"], path, env)
    assert result.returncode == 0 and ran_stages(result.stdout) == []


def test_exp_run_with_hidden_reruns_only_train_and_evaluate(project):
    path, env = project
    result = run(["dvc", "exp", "run", "-S", "model.hidden=50"], path, env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert ran_stages(result.stdout) == ["train", "evaluate"]
    metadata = json.loads((path / "models/model/metadata.json").read_text())
    assert metadata["spec"]["hidden"] == 50
