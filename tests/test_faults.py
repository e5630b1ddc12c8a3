"""Faults under a real gunicorn: the training process and the API are killed with SIGKILL mid-job."""

import json
import os
import signal
import time

import pytest
import requests

from tests.project_copy import clone_project, venv_env
from tests.servers import start_gunicorn, stop, wait_for_job

pytestmark = [pytest.mark.system, pytest.mark.pipeline]

TOKEN = "fault-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FINAL = ("succeeded", "failed", "interrupted")


@pytest.fixture(scope="module")
def project(tmp_path_factory, synthetic_zip, trained_serving_project):
    project = clone_project(trained_serving_project, tmp_path_factory.mktemp("faults") / "project")
    env = venv_env(SER_EMODB_SOURCE=str(synthetic_zip), SER_API_TOKEN=TOKEN, SER_WORKERS="2")
    return project, env


def runner_pid(project, job_id: str) -> int:
    return json.loads((project / "runs/jobs" / job_id / "state.json").read_text())["pid"]


def start_job(base: str, params: dict) -> str:
    # --force makes the job long enough to be killed while DVC runs a stage.
    response = requests.post(f"{base}/train", json={"params": params}, headers=AUTH, timeout=10)
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def test_killed_training_process_keeps_old_model_and_next_job_succeeds(project):
    path, env = project
    process, base = start_gunicorn(path, env)
    try:
        before = requests.get(f"{base}/ready", timeout=5).json()["model_version"]
        params_before = (path / "params.yaml").read_text()
        job_id = start_job(base, {"split.test_speakers": ["10", "14"]})
        wait_for_job(base, job_id, ("running",))
        time.sleep(2.0)  # inside `dvc repro`, past the split stage's start
        os.kill(runner_pid(path, job_id), signal.SIGKILL)
        job = wait_for_job(base, job_id, FINAL, timeout=30)
        assert job["state"] == "interrupted"
        assert (path / "params.yaml").read_text() == params_before  # its overrides were undone
        assert requests.get(f"{base}/ready", timeout=5).json()["model_version"] == before
        answer = requests.post(f"{base}/pred", json={"id": "03a01Fa"}, timeout=5)
        assert answer.status_code == 200 and answer.json()["model_version"] == before
        # A stale DVC lock left by the killed `dvc repro` must not block the next run.
        next_id = start_job(base, {"model.C": 0.5})
        job = wait_for_job(base, next_id, FINAL)
        assert job["state"] == "succeeded", job["log_tail"]
        assert requests.get(f"{base}/ready", timeout=5).json()["model_version"] == job["model_version"]
        assert (path / "params.yaml").read_text() != params_before
    finally:
        stop(process)


def test_killed_api_loses_no_job_and_the_restarted_api_reports_it(project):
    path, env = project
    process, base = start_gunicorn(path, env)
    job_id = start_job(base, {"model.C": 0.25})
    wait_for_job(base, job_id, ("running", *FINAL))
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    with pytest.raises(requests.RequestException):
        requests.get(f"{base}/health", timeout=2)
    process, base = start_gunicorn(path, env)
    try:
        job = wait_for_job(base, job_id, FINAL)
        # The runner lives in its own session, so the job finishes although the API died under it.
        assert job["state"] == "succeeded", job
        assert requests.get(f"{base}/ready", timeout=5).json()["model_version"] == job["model_version"]
        assert requests.get(f"{base}/train", timeout=5).json()["job_id"] == job_id
    finally:
        stop(process)


def test_job_whose_runner_died_with_the_api_is_interrupted_after_restart(project):
    path, env = project
    process, base = start_gunicorn(path, env)
    job_id = start_job(base, {"model.C": 0.75})
    wait_for_job(base, job_id, ("running",))
    time.sleep(1.0)
    os.killpg(runner_pid(path, job_id), signal.SIGKILL)  # the whole job: runner, dvc and its stage
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    process, base = start_gunicorn(path, env)
    try:
        job = requests.get(f"{base}/train/{job_id}", timeout=5).json()
        assert job["state"] == "interrupted" and job["finished_at"]
        assert requests.post(f"{base}/pred", json={"id": "03a01Fa"}, timeout=5).status_code == 200
    finally:
        stop(process)
