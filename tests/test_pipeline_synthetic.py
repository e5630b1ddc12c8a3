"""The whole DVC pipeline on a synthetic archive: every stage, outputs, no-op rerun, partial reruns."""

import json

import pandas as pd
import pytest

from tests.project_copy import (
    PLUMBING_FEATURES,
    PLUMBING_RESOURCES,
    SMALL_CHANNELS,
    copy_project,
    edit_params,
    run,
    venv_env,
)

pytestmark = [pytest.mark.system, pytest.mark.pipeline]

SMALL_CV = {
    "candidates": {
        "logreg": {"family": "logreg", "C": 1.0},
        "mlp_small": {"family": "mlp", "hidden": 16, "epochs": 20},
    }
}


CHANNEL_STAGES = ["channel_features@line", "channel_features@ulaw"]
AFTER_CV = ["cv", "voice_space", "train", "speaker_norm", "evaluate"]


def ran_stages(output: str) -> list[str]:
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")]


def assert_ran(ran: list[str], stages: list[str]) -> None:
    """Exactly ``stages`` ran, each after the stages it reads."""
    assert sorted(ran) == sorted(stages)
    order = [("split", "cv"), ("voice_embeddings@line", "voice_space"), ("cv", "train"), ("voice_space", "train")]
    order += [("train", "speaker_norm"), ("train", "evaluate")] + [(name, "cv") for name in CHANNEL_STAGES]
    for before, after in order:
        if before in ran and after in ran:
            assert ran.index(before) < ran.index(after), (before, after, ran)


@pytest.fixture(scope="module")
def project(tmp_path_factory, synthetic_zip):
    project = copy_project(tmp_path_factory.mktemp("synthetic") / "project")
    edit_params(
        project,
        cv=SMALL_CV,
        model={"family": "auto"},
        channels=SMALL_CHANNELS,
        features=PLUMBING_FEATURES,
        diarisation={"conditions": ["line"]},
        resources=PLUMBING_RESOURCES,
    )
    env = venv_env(SER_EMODB_SOURCE=str(synthetic_zip))
    result = run(["dvc", "repro"], project, env)
    assert result.returncode == 0, result.stdout + result.stderr
    return project, env, result.stdout


def test_every_stage_runs_and_writes_its_outputs(project):
    path, _, output = project
    ran = ran_stages(output)
    assert ran[0] == "download"
    assert_ran(ran, ["download", "split", "features", *CHANNEL_STAGES, "voice_embeddings@line", *AFTER_CV])
    for name in [
        "data/raw/wav",
        "data/split/train.csv",
        "data/split/test.csv",
        "data/features/features.parquet",
        "reports/cv/results.csv",
        "reports/cv/summary.json",
        "models/model/model.joblib",
        "models/model/metadata.json",
        "reports/metrics.json",
        "reports/timing.json",
        "data/channel_features/line.parquet",
        "data/channel_features/ulaw.parquet",
        "reports/conditions.json",
        "reports/plots/confusion.png",
        "reports/plots/per_class_f1.png",
        "reports/plots/accuracy_per_condition.png",
        "reports/plots/cv.png",
        "models/speaker_norm/model.joblib",
        "reports/speaker_norm/cv.json",
        "reports/speaker_norm/metrics.json",
    ]:
        assert (path / name).exists(), name


def test_plots_render_offline(project):
    """Image plots only: the page `dvc plots show` writes loads nothing from the internet."""
    path, env, _ = project
    result = run(["dvc", "plots", "show", "-o", "plots_html"], path, env)
    assert result.returncode == 0, result.stderr
    page = (path / "plots_html/index.html").read_text()
    assert "<script" not in page and "https://" not in page
    assert page.count("<img") == 4


def test_split_manifests_are_speaker_disjoint(project):
    path, _, _ = project
    train = pd.read_csv(path / "data/split/train.csv", dtype={"speaker": str})
    test = pd.read_csv(path / "data/split/test.csv", dtype={"speaker": str})
    assert set(test["speaker"]) == {"03", "08"}
    assert not set(train["speaker"]) & set(test["speaker"])


def test_metrics_report_quality_per_class_and_timing(project):
    path, _, _ = project
    metrics = json.loads((path / "reports/metrics.json").read_text())
    assert metrics["accuracy"] > 0.9  # emotions are distinct tones: an easy task
    assert set(metrics["per_class"]) == {"neutral", "anger", "boredom", "disgust", "fear", "happiness", "sadness"}
    assert {"uar", "macro_precision", "macro_recall", "macro_f1", "train_accuracy"} <= set(metrics)
    timing = json.loads((path / "reports/timing.json").read_text())
    assert timing["inference_samples_per_s"] > 0 and timing["train_seconds"] >= 0
    summary = json.loads((path / "reports/cv/summary.json").read_text())
    assert summary["best_candidate"] in SMALL_CV["candidates"]
    assert "09" in summary["speakers"] and "03" not in summary["speakers"]


def test_forced_rerun_gives_identical_metrics_and_model(project):
    path, env, _ = project
    metrics = (path / "reports/metrics.json").read_text()
    summary = (path / "reports/cv/summary.json").read_text()
    result = run(["dvc", "repro", "--force"], path, env)
    assert result.returncode == 0, result.stderr
    assert (path / "reports/metrics.json").read_text() == metrics
    assert (path / "reports/cv/summary.json").read_text() == summary


def test_mlp_training_is_reproducible_to_the_byte(project):
    path, env, _ = project
    edit_params(path, model={"family": "mlp", "hidden": 24, "epochs": 10, "batch_norm": True, "dropout": 0.2})
    versions = []
    for _ in range(2):
        result = run(["dvc", "repro", "--force", "--single-item", "train"], path, env)
        assert result.returncode == 0, result.stderr
        versions.append(json.loads((path / "models/model/metadata.json").read_text())["model_version"])
    assert versions[0] == versions[1]
    assert run(["dvc", "repro"], path, env).returncode == 0


def test_second_repro_is_a_no_op(project):
    path, env, _ = project
    result = run(["dvc", "repro"], path, env)
    assert result.returncode == 0, result.stderr
    assert ran_stages(result.stdout) == []
    assert "up to date" in result.stdout


def test_model_param_change_reruns_only_train_and_evaluate(project):
    path, env, _ = project
    edit_params(path, model={"family": "mlp", "hidden": 32, "epochs": 20})
    result = run(["dvc", "repro"], path, env)
    assert result.returncode == 0, result.stderr
    assert ran_stages(result.stdout) == ["train", "evaluate"]


def test_condition_change_reruns_only_that_condition_and_its_readers(project):
    path, env, _ = project
    channels = {**SMALL_CHANNELS, "conditions": {**SMALL_CHANNELS["conditions"], "ulaw": [{"codec": "ulaw"}]}}
    edit_params(path, channels=channels)
    result = run(["dvc", "repro"], path, env)
    assert result.returncode == 0, result.stderr
    assert ran_stages(result.stdout) == ["channel_features@ulaw", "cv", "train", "evaluate"]
    scores = json.loads((path / "reports/conditions.json").read_text())["conditions"]
    assert set(scores) == {"clean", "ulaw"}
    cv = pd.read_csv(path / "reports/cv/results.csv")
    assert {"uar_clean", "uar_line", "uar_ulaw"} <= set(cv.columns)


def test_split_change_keeps_clean_features(project):
    """Clean features are label- and split-free; channel features rerun (babble comes from training speakers)."""
    path, env, _ = project
    edit_params(path, split={"test_speakers": ["10", "14"]})
    result = run(["dvc", "repro"], path, env)
    assert result.returncode == 0, result.stderr
    ran = ran_stages(result.stdout)
    assert ran[0] == "split"
    assert_ran(ran, ["split", *CHANNEL_STAGES, "voice_embeddings@line", *AFTER_CV])
    metrics = json.loads((path / "reports/metrics.json").read_text())
    assert metrics["test_speakers"] == ["10", "14"]


def test_bad_param_fails_with_one_line_and_keeps_model(project):
    path, env, _ = project
    model_before = (path / "models/model/metadata.json").read_text()
    edit_params(path, split={"test_speakers": ["99"]})
    result = run(["dvc", "repro"], path, env)
    assert result.returncode != 0
    assert "error: unknown test speakers ['99']" in result.stderr
    assert "Traceback" not in result.stderr
    assert (path / "models/model/metadata.json").read_text() == model_before
