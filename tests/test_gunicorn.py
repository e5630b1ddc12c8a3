"""Smoke test of the real server: gunicorn on loopback over a synthetic project built by `dvc repro`.

Covers what only a real server shows: several workers, the upload limit under gunicorn, and a /train job
that runs the DVC pipeline and makes every worker serve the new model without a restart.
"""

import socket
import subprocess
import time

import pytest
import requests

from tests.project_copy import copy_project, edit_params, run, venv_env

TOKEN = "smoke-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, synthetic_zip):
    project = copy_project(tmp_path_factory.mktemp("gunicorn") / "project")
    edit_params(project, cv={"candidates": {"logreg": {"family": "logreg"}}}, model={"family": "logreg"})
    env = venv_env(
        SER_EMODB_SOURCE=str(synthetic_zip),
        SER_PROJECT_DIR=str(project),
        SER_API_TOKEN=TOKEN,
        SER_MAX_UPLOAD_MB="1",
        SER_WORKERS="2",
    )
    result = run(["dvc", "repro"], project, env)
    assert result.returncode == 0, result.stderr[-2000:]
    port = free_port()
    env["SER_BIND"] = f"127.0.0.1:{port}"
    from tests.project_copy import ROOT

    process = subprocess.Popen(
        ["gunicorn", "-c", str(ROOT / "serve/gunicorn.conf.py"), "serve.wsgi:app"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/ready", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail("gunicorn did not become ready")
    yield base, project
    process.terminate()
    process.wait(timeout=30)


def test_pred_by_id_and_upload_under_gunicorn(server):
    base, project = server
    by_id = requests.post(f"{base}/pred", json={"id": "03a01Fa"}, timeout=10)
    assert by_id.status_code == 200 and by_id.json()["class"]["code"] == "F"
    audio = (project / "data/raw/wav/03a01Fa.wav").read_bytes()
    upload = requests.post(f"{base}/pred", files={"file": ("a.wav", audio, "audio/wav")}, timeout=10)
    assert upload.status_code == 200 and upload.json()["probabilities"] == by_id.json()["probabilities"]


def test_upload_limit_is_enforced_by_gunicorn_app(server):
    base, _ = server
    response = requests.post(
        f"{base}/pred", data=b"\0" * (2 * 1024 * 1024), headers={"Content-Type": "audio/wav"}, timeout=10
    )
    assert response.status_code == 413 and "too large" in response.json()["error"]


def test_train_job_swaps_the_model_in_every_worker(server):
    base, _ = server
    before = requests.get(f"{base}/ready", timeout=5).json()["model_version"]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    started = requests.post(f"{base}/train", json={"params": {"model.C": 0.05}}, headers=auth, timeout=10)
    assert started.status_code == 202, started.text
    status_url = base + started.headers["Location"]
    assert requests.post(f"{base}/train", headers=auth, timeout=10).status_code == 409
    deadline = time.monotonic() + 300
    job = {}
    while time.monotonic() < deadline:
        job = requests.get(status_url, timeout=5).json()
        if job["state"] not in ("queued", "running"):
            break
        time.sleep(1)
    assert job["state"] == "succeeded", job
    assert job["model_version"] != before and job["test_accuracy"] > 0.5
    time.sleep(1)
    answers = [requests.post(f"{base}/pred", json={"id": "08a01Wa"}, timeout=5).json() for _ in range(20)]
    versions = {answer["model_version"] for answer in answers}
    assert versions == {job["model_version"]}
