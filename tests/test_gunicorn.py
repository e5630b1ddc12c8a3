"""Smoke test of the real server: gunicorn on loopback over a synthetic project built by `dvc repro`.

Covers what only a real server shows: several workers, the upload limit under gunicorn, and a /train job
that runs the DVC pipeline and makes every worker serve the new model without a restart.
"""

import json
import time

import numpy as np
import psutil
import pytest
import requests

from ser.data.emodb import EMOTIONS
from tests.audio_samples import (
    encode,
    hour_of_silence_flac,
    square_wave_clipping,
    tone,
    wav_with_lying_data_size,
    wav_with_unknown_codec,
)
from tests.project_copy import clone_project, venv_env
from tests.servers import start_gunicorn, stop, wait_for_job

pytestmark = [pytest.mark.system, pytest.mark.pipeline]

TOKEN = "smoke-token"


@pytest.fixture(scope="module")
def server(tmp_path_factory, synthetic_zip, trained_serving_project):
    project = clone_project(trained_serving_project, tmp_path_factory.mktemp("gunicorn") / "project")
    env = venv_env(
        SER_EMODB_SOURCE=str(synthetic_zip),
        SER_PROJECT_DIR=str(project),
        SER_API_TOKEN=TOKEN,
        SER_MAX_UPLOAD_MB="1",
        SER_WORKERS="2",
    )
    process, base = start_gunicorn(project, env)
    yield base, project
    stop(process)


def test_pred_by_id_and_upload_under_gunicorn(server):
    base, project = server
    by_id = requests.post(f"{base}/pred", json={"id": "03a01Fa"}, timeout=10)
    assert by_id.status_code == 200 and by_id.json()["class"]["code"] == "F"
    audio = (project / "data/raw/wav/03a01Fa.wav").read_bytes()
    upload = requests.post(f"{base}/pred", files={"file": ("a.wav", audio, "audio/wav")}, timeout=10)
    assert upload.status_code == 200 and upload.json()["probabilities"] == by_id.json()["probabilities"]


def test_workers_serve_without_pandas(server):
    base, project = server
    assert requests.post(f"{base}/pred", json={"id": "03a01Fa"}, timeout=10).status_code == 200
    gunicorn = [
        process
        for process in psutil.process_iter(["cmdline", "cwd"])
        if "serve.wsgi:app" in " ".join(process.info["cmdline"] or []) and process.info["cwd"] == str(project)
    ]
    workers = [process for process in gunicorn if process.ppid() in {other.pid for other in gunicorn}]
    assert len(workers) == 2
    for worker in workers:
        paths = [m.path for m in worker.memory_maps() if m.path]
        assert any("/sklearn/" in path for path in paths)  # the model's libraries are loaded ...
        assert not [path for path in paths if "/pandas/" in path or "arrow" in path]  # ... pandas and pyarrow not


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
    assert started.headers["Location"] == f"/train/{started.json()['job_id']}"
    assert requests.post(f"{base}/train", headers=auth, timeout=10).status_code == 409
    job = wait_for_job(base, started.json()["job_id"], ("succeeded", "failed", "interrupted"))
    assert job["state"] == "succeeded", job
    assert job["model_version"] != before and job["test_accuracy"] > 0.5
    time.sleep(1)
    answers = [requests.post(f"{base}/pred", json={"id": "08a01Wa"}, timeout=5).json() for _ in range(20)]
    versions = {answer["model_version"] for answer in answers}
    assert versions == {job["model_version"]}


ONE_SECOND = 16000


def click() -> np.ndarray:
    """50 ms of a steady square wave in the middle of a second of silence."""
    signal = np.zeros(ONE_SECOND, np.float32)
    signal[8000:8800] = 0.5
    signal[8000:8800:20] = -0.5
    return signal


UNSUPPORTED = "send JSON, multipart/form-data or audio/*"
ALLOWED = "allowed: ['cv.metric', 'model.C', 'model.batch_norm', 'model.batch_size', 'model.class_weight', "
WAV = {"Content-Type": "audio/wav"}
JSON = {"Content-Type": "application/json"}


def upload(data: bytes, name: str = "a.wav") -> dict:
    return {"files": {"file": (name, data, "application/octet-stream")}}


# (kind, path, request arguments, status, exact message; None where the answer is a prediction)
BAD_INPUT = [
    ("empty body", "/pred", {}, 415, f"unsupported content type 'none': {UNSUPPORTED}"),
    ("non-JSON body", "/pred", {"data": b"{id: 03a01Fa", "headers": JSON}, 400,
     'body must be a JSON object such as {"id": "03a01Fa"}'),
    ("JSON without id", "/pred", {"json": {"name": "03a01Fa"}}, 400, 'JSON body needs "id" (or "ids" for a batch)'),
    ("id of wrong shape", "/pred", {"json": {"id": "3a01Fa"}}, 400,
     "malformed id '3a01Fa': expected an EmoDB id such as '03a01Fa'"),
    ("id with path characters", "/pred", {"json": {"id": "../../etc/passwd"}}, 400,
     "malformed id '../../etc/passwd': expected an EmoDB id such as '03a01Fa'"),
    ("id of wrong type", "/pred", {"json": {"id": 301}}, 400,
     "malformed id 301: expected an EmoDB id such as '03a01Fa'"),
    ("unknown id", "/pred", {"json": {"id": "03a01Fz"}}, 404, "unknown id '03a01Fz': no such EmoDB recording"),
    ("wrong content type", "/pred", {"data": b"03a01Fa", "headers": {"Content-Type": "text/plain"}}, 415,
     f"unsupported content type 'text/plain': {UNSUPPORTED}"),
    ("multipart without a file", "/pred", {"files": {"other": ("x.txt", b"x")}}, 400,
     'multipart upload needs a "file" field'),
    ("zero-byte file", "/pred", upload(b""), 422, "uploaded audio is empty"),
    ("random bytes named .wav", "/pred", upload(np.random.default_rng(1).bytes(4096)), 422,
     "cannot decode audio: unsupported format or damaged file"),
    ("truncated WAV header", "/pred", {"data": encode(tone())[:30], "headers": WAV}, 422,
     "cannot decode audio: unsupported format or damaged file"),
    ("WAV whose data size lies", "/pred", {"data": wav_with_lying_data_size(), "headers": WAV}, 200, None),
    ("NaN float WAV", "/pred", {"data": encode(np.full(ONE_SECOND, np.nan, np.float32), subtype="FLOAT"),
                                "headers": WAV}, 422, "audio contains NaN or infinite samples"),
    ("infinite float WAV", "/pred", {"data": encode(np.full(ONE_SECOND, np.inf, np.float32), subtype="FLOAT"),
                                     "headers": WAV}, 422, "audio contains NaN or infinite samples"),
    ("1-sample audio", "/pred", {"data": encode(np.array([0.5], np.float32)), "headers": WAV}, 422,
     "audio too short: 1 samples after resampling, need at least 512"),
    ("silence only", "/pred", {"data": encode(np.zeros(ONE_SECOND, np.float32)), "headers": WAV}, 422,
     "audio is silent"),
    ("a DC offset over silence", "/pred", {"data": encode(np.full(ONE_SECOND, 0.3, np.float32)), "headers": WAV},
     422, "audio is silent (a DC offset alone)"),
    ("clipping square wave", "/pred", {"data": encode(square_wave_clipping()), "headers": WAV}, 200, None),
    ("a 50 ms click in a second of silence", "/pred", {"data": encode(click()), "headers": WAV}, 422,
     "utterance too short: 0.05 s of sound, at least 0.2 s needed"),
    ("a channel the upload lacks", "/pred?channel=2", {"data": encode(np.stack([tone(), tone()], 1)),
                                                      "headers": WAV}, 422,
     "channel 2 does not exist: the audio has 2 (0 = left)"),
    ("a channel that is no number", "/pred?channel=right", {"data": encode(tone()), "headers": WAV}, 400,
     "channel must be a channel number (0 = left)"),
    ("1-hour file over the duration limit", "/pred", upload(hour_of_silence_flac(), "hour.flac"), 413,
     "audio lasts 3600.0 s, more than the 60 s allowed"),
    ("file over the size limit", "/pred", {"data": b"\0" * (2 * 1024 * 1024), "headers": WAV}, 413,
     "request body too large (limit 1 MB)"),
    ("unsupported codec", "/pred", {"data": wav_with_unknown_codec(), "headers": WAV}, 422,
     "cannot decode audio: unsupported format or damaged file"),
    ("huge JSON", "/pred", {"data": json.dumps({"id": "03a01Fa", "pad": "x" * 2_000_000}), "headers": JSON}, 413,
     "request body too large (limit 1 MB)"),
    ("batch over the limit", "/pred", {"json": {"ids": ["03a01Fa"] * 101}}, 400,
     '"ids" must be a list of 1 to 100 EmoDB ids'),
    ("wrong method", "/pred", {"method": "GET"}, 405, "method not allowed for this endpoint"),
    ("train without token", "/train", {}, 401, "missing or wrong bearer token"),
    ("unknown param override", "/train", {"json": {"params": {"model.layers": 4}}, "auth": True}, 400, None),
    ("override with a shell-looking value", "/train",
     {"json": {"params": {"model.hidden": "100; rm -rf /"}}, "auth": True}, 400,
     "param 'model.hidden' must be an integer from 1 to 4096"),
    ("override of a non-whitelisted block", "/train", {"json": {"params": {"download.url": "file:///etc"}},
                                                      "auth": True}, 400, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "path", "arguments", "status", "message"), BAD_INPUT, ids=[case[0] for case in BAD_INPUT]
)
def test_bad_input_gets_the_exact_status_and_message(server, kind, path, arguments, status, message):
    base, _ = server
    arguments = dict(arguments)
    method = arguments.pop("method", "POST")
    if arguments.pop("auth", False):
        arguments["headers"] = {"Authorization": f"Bearer {TOKEN}"}
    response = requests.request(method, base + path, timeout=30, **arguments)
    assert response.status_code == status, response.text
    body = response.json()
    if message is not None:
        assert body == {"error": message, "status": status}
    elif status == 400:
        assert body["error"].startswith("param '") and "cannot be overridden; " + ALLOWED in body["error"]
    else:
        assert set(body["probabilities"]) == set(EMOTIONS.values()) and body["duration_s"] > 0


def test_server_is_healthy_and_correct_after_bad_input(server):
    base, project = server
    assert requests.get(f"{base}/health", timeout=5).json() == {"status": "ok"}
    assert requests.get(f"{base}/ready", timeout=5).json()["ready"] is True
    answer = requests.post(f"{base}/pred", json={"id": "16a01Ta"}, timeout=5).json()
    assert answer["class"]["code"] == "T"
    audio = (project / "data/raw/wav/16a01Ta.wav").read_bytes()
    uploaded = requests.post(f"{base}/pred", data=audio, headers=WAV, timeout=5).json()
    assert uploaded["probabilities"] == answer["probabilities"]
