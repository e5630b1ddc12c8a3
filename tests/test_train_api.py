"""POST/GET /train: auth, validation, one job at a time, outcomes, and jobs whose runner died."""

import dataclasses
import json
import os
import signal
import sys
import time

import pytest
import yaml

from serve.app import create_app
from tests.api_fixtures import build_served_project

pytestmark = pytest.mark.system

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture()
def project(tmp_path):
    return build_served_project(tmp_path)


def make_client(settings, command, **changes):
    settings = dataclasses.replace(settings, api_token=TOKEN, train_command=tuple(command), **changes)
    return create_app(settings).test_client()


def wait_for(client, job_id, states=("succeeded", "failed", "interrupted"), timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/train/{job_id}").json
        if job["state"] in states:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job['state']}")


def test_training_is_refused_without_a_configured_token(project):
    client = create_app(project).test_client()
    response = client.post("/train")
    assert response.status_code == 403 and "SER_API_TOKEN" in response.json["error"]


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer", TOKEN])
def test_missing_or_wrong_token_is_401(project, header):
    client = make_client(project, ["true"])
    response = client.post("/train", headers={"Authorization": header} if header else {})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"params": {"model.unknown": 1}}, "cannot be overridden"),
        ({"params": {"base.log_level": "DEBUG"}}, "cannot be overridden"),
        ({"params": {"model.hidden": "100; rm -rf /"}}, "must be an integer"),
        ({"params": {"model.hidden": True}}, "must be an integer"),
        ({"params": {"model.hidden": 0}}, "must be an integer from 1"),
        ({"params": {"model.family": "$(reboot)"}}, "must be one of"),
        ({"params": {"split.test_speakers": ["03", "99"]}}, "distinct speakers"),
        ({"params": {"model.dropout": 1.5}}, "must be in"),
        ({"params": ["model.hidden"]}, "must be an object"),
        ({"other": 1}, "JSON object"),
    ],
)
def test_bad_overrides_are_400_and_nothing_runs(project, body, message):
    client = make_client(project, ["true"])
    response = client.post("/train", json=body, headers=AUTH)
    assert response.status_code == 400 and message in response.json["error"]
    assert client.get("/train").status_code == 404


def test_successful_job_reports_accuracy_version_and_applies_params(project):
    client = make_client(project, [sys.executable, "-c", "print('pipeline ran')"])
    response = client.post("/train", json={"params": {"model.hidden": 64}}, headers=AUTH)
    assert response.status_code == 202
    job_id = response.json["job_id"]
    assert response.headers["Location"].endswith(f"/train/{job_id}")
    job = wait_for(client, job_id)
    assert job["state"] == "succeeded"
    assert job["test_accuracy"] == 0.9 and job["train_accuracy"] > 0.5
    assert job["model_version"] == client.get("/ready").json["model_version"]
    assert "pipeline ran" in "\n".join(job["log_tail"])
    assert job["started_at"] and job["finished_at"]
    assert client.get("/train").json["job_id"] == job_id
    params = yaml.safe_load((project.project_dir / "params.yaml").read_text())
    assert params["model"]["hidden"] == 64


def test_failed_job_restores_params_and_keeps_model(project):
    client = make_client(project, [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"])
    params_before = (project.project_dir / "params.yaml").read_text()
    version = client.get("/ready").json["model_version"]
    job_id = client.post("/train", json={"params": {"model.hidden": 64}}, headers=AUTH).json["job_id"]
    job = wait_for(client, job_id)
    assert job["state"] == "failed" and "status 3" in job["error"]
    assert (project.project_dir / "params.yaml").read_text() == params_before
    assert client.get("/ready").json["model_version"] == version
    assert client.post("/pred", json={"id": "03a01Fa"}).status_code == 200


def test_second_job_while_one_runs_is_409(project):
    client = make_client(project, [sys.executable, "-c", "import time; time.sleep(3)"])
    first = client.post("/train", headers=AUTH)
    assert first.status_code == 202
    second = client.post("/train", headers=AUTH)
    assert second.status_code == 409
    assert second.json["job_id"] == first.json["job_id"] and first.json["job_id"] in second.json["error"]
    assert wait_for(client, first.json["job_id"])["state"] == "succeeded"
    assert client.post("/train", headers=AUTH).status_code == 202


def test_killed_runner_is_reported_interrupted_and_next_job_runs(project):
    client = make_client(project, [sys.executable, "-c", "import time; time.sleep(60)"])
    params_before = (project.project_dir / "params.yaml").read_text()
    job_id = client.post("/train", json={"params": {"model.hidden": 64}}, headers=AUTH).json["job_id"]
    job = wait_for(client, job_id, states=("running",))
    os.kill(_runner_pid(project, job_id), signal.SIGKILL)
    job = wait_for(client, job_id)
    assert job["state"] == "interrupted"
    assert (project.project_dir / "params.yaml").read_text() == params_before
    restarted = create_app(dataclasses.replace(project, api_token=TOKEN, train_command=("true",))).test_client()
    assert restarted.get("/train").json["state"] == "interrupted"
    next_job = restarted.post("/train", headers=AUTH)
    assert next_job.status_code == 202
    assert wait_for(restarted, next_job.json["job_id"])["state"] == "succeeded"


HALF_WRITTEN_LOCK = "open('dvc.lock', 'w').write('schema: \\'2.0\\'\\nstages:\\n  features:\\n    cmd')"


def _project_with_lock(project):
    lock = project.project_dir / "dvc.lock"
    lock.write_text("schema: '2.0'\nstages: {}\n")
    return lock, lock.read_text()


def test_a_pipeline_killed_while_writing_its_lock_file_leaves_the_lock_as_before(project):
    lock, before = _project_with_lock(project)
    kill_itself = f"import os, signal; {HALF_WRITTEN_LOCK}; os.kill(os.getpid(), signal.SIGKILL)"
    client = make_client(project, [sys.executable, "-c", kill_itself])
    job = wait_for(client, client.post("/train", headers=AUTH).json["job_id"])
    assert job["state"] == "failed" and "status -9" in job["error"]
    assert lock.read_text() == before


def test_a_killed_runner_leaves_the_lock_file_as_before(project):
    lock, before = _project_with_lock(project)
    client = make_client(project, [sys.executable, "-c", f"import time; {HALF_WRITTEN_LOCK}; time.sleep(60)"])
    job_id = client.post("/train", headers=AUTH).json["job_id"]
    wait_for(client, job_id, states=("running",))
    deadline = time.monotonic() + 30
    while lock.read_text() == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert lock.read_text() != before  # half written by the "pipeline", which is still running
    os.kill(_runner_pid(project, job_id), signal.SIGKILL)
    assert wait_for(client, job_id)["state"] == "interrupted"
    assert lock.read_text() == before


def _runner_pid(project, job_id):
    return json.loads((project.jobs_dir / job_id / "state.json").read_text())["pid"]


def test_unknown_job_is_404(project):
    client = make_client(project, ["true"])
    assert client.get("/train/20990101T000000Z-abcdef").status_code == 404
    assert client.get("/train/..%2F..%2Fetc").status_code == 404


def test_a_runner_whose_start_reads_a_second_apart_is_alive_and_a_reused_pid_is_not():
    """psutil's start time moves with the kernel's boot time (whole seconds, wall clock minus uptime): the same
    process can read a second apart, a reused pid reads much later."""
    import psutil

    from serve.jobs import _runner_alive

    started = psutil.Process().create_time()
    assert _runner_alive({"pid": os.getpid(), "pid_started": started + 1.0})
    assert _runner_alive({"pid": os.getpid(), "pid_started": started - 1.0})
    assert not _runner_alive({"pid": os.getpid(), "pid_started": started - 60.0})
    assert not _runner_alive({"pid": None})


UNREADABLE_RWLOCK = (
    "import pathlib; p = pathlib.Path('.dvc/tmp'); p.mkdir(parents=True, exist_ok=True); (p / 'rwlock').write_text('')"
)
EDIT_RWLOCK_AS_DVC = (
    "from dvc.fs import localfs; from dvc.rwlock import _edit_rwlock\n"
    "with _edit_rwlock('.dvc/tmp', localfs, False): pass"
)


def test_a_pipeline_killed_while_writing_dvcs_stage_locks_does_not_block_the_next_job(project):
    kill_itself = f"import os, signal; {UNREADABLE_RWLOCK}; os.kill(os.getpid(), signal.SIGKILL)"
    client = make_client(project, [sys.executable, "-c", kill_itself])
    assert wait_for(client, client.post("/train", headers=AUTH).json["job_id"])["state"] == "failed"
    rwlock = project.project_dir / ".dvc/tmp/rwlock"
    assert rwlock.read_text() == ""  # as DVC leaves it when killed between truncating and writing it
    client = make_client(project, [sys.executable, "-c", EDIT_RWLOCK_AS_DVC])
    job_id = client.post("/train", headers=AUTH).json["job_id"]
    job = wait_for(client, job_id)
    assert job["state"] == "succeeded", client.get(f"/train/{job_id}").json["log_tail"]
    assert json.loads(rwlock.read_text()) == {"read": {}, "write": {}}


def test_a_runner_killed_while_dvc_wrote_its_stage_locks_leaves_them_readable(project):
    writes_then_waits = f"import time; {UNREADABLE_RWLOCK}; time.sleep(60)"
    client = make_client(project, [sys.executable, "-c", writes_then_waits])
    job_id = client.post("/train", headers=AUTH).json["job_id"]
    wait_for(client, job_id, states=("running",))
    rwlock = project.project_dir / ".dvc/tmp/rwlock"
    deadline = time.monotonic() + 30
    while not rwlock.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert rwlock.read_text() == ""
    os.kill(_runner_pid(project, job_id), signal.SIGKILL)
    assert wait_for(client, job_id)["state"] == "interrupted"
    assert not rwlock.exists()  # a `dvc repro` typed by hand now runs
