"""Training and serving on different machines through a DVC remote (a local directory stands in for S3/GCS)."""

import json

import pytest

from ser.models.artifact import ModelArtifact
from serve.app import create_app
from serve.settings import Settings
from tests.project_copy import clone_project, run, venv_env

pytestmark = [pytest.mark.system, pytest.mark.pipeline]


def test_second_clone_pulls_and_serves_exactly_the_pushed_model(tmp_path, synthetic_zip, trained_serving_project):
    trainer = clone_project(trained_serving_project, tmp_path / "trainer")
    env = venv_env(SER_EMODB_SOURCE=str(synthetic_zip))
    remote = tmp_path / "remote"
    for cmd in (
        ["dvc", "repro"],  # the copy is trained already: DVC checks its workspace against dvc.lock
        ["dvc", "remote", "add", "--default", "store", str(remote)],
        ["dvc", "push"],
        ["git", "add", "-A"],
        ["git", "commit", "-q", "-m", "train and push"],
    ):
        result = run(cmd, trainer, env)
        assert result.returncode == 0, f"{cmd}: {result.stdout}{result.stderr}"
    trained = json.loads((trainer / "models/model/metadata.json").read_text())["model_version"]

    server = tmp_path / "server"
    assert run(["git", "clone", "-q", str(trainer), str(server)], tmp_path, env).returncode == 0
    assert not (server / "models").exists()
    pulled = run(["dvc", "pull", "models/model"], server, env)
    assert pulled.returncode == 0, pulled.stderr
    assert run(["dvc", "status", "train"], server, env).returncode == 0

    settings = Settings(
        project_dir=server,
        model_dir=server / "models/model",
        wav_dir=trainer / "data/raw/wav",
        metrics_file=server / "reports/metrics.json",
        jobs_dir=server / "runs/jobs",
    )
    client = create_app(settings).test_client()
    assert client.get("/ready").json["model_version"] == trained
    assert client.get("/model").json["metrics"]["model_version"] == trained
    assert ModelArtifact.load(server / "models/model").version == trained
