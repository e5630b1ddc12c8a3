"""The serving API through Flask's test client."""

import dataclasses
import io
import json

import numpy as np
import pytest
import soundfile as sf

from ser.features.dataset import feature_table
from ser.features.extraction import features_of_audio
from ser.features.extractor import FeatureConfig
from ser.inference.predictor import RecordingFeatures
from ser.models.artifact import METADATA_FILE, ModelArtifact
from ser.models.training import train
from serve.app import create_app
from tests.audio_samples import ffmpeg_encode, headerless
from tests.synthetic import SR, light_config, synthetic_signal

pytestmark = pytest.mark.system


@pytest.fixture()
def client(served):
    return create_app(served).test_client()


def test_a_data_token_guards_the_routes_that_take_recordings(served):
    """With SER_DATA_TOKEN set, /pred and /analyze answer only requests that carry it (401 JSON otherwise, before
    the upload is read); health, readiness, the model card, the spec and the page stay open for monitoring."""
    guarded = create_app(dataclasses.replace(served, data_token="s3cret")).test_client()
    upload = wav_bytes(synthetic_signal("03a01Fa", 1.0))
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
        for route, data in (("/pred", upload), ("/analyze", upload)):
            response = guarded.post(route, data=data, content_type="audio/wav", headers=headers)
            assert response.status_code == 401 and "access token" in response.json["error"], (route, headers)
        assert guarded.post("/pred", json={"id": "03a01Fa"}, headers=headers).status_code == 401
    with_token = {"Authorization": "Bearer s3cret"}
    assert guarded.post("/pred", data=upload, content_type="audio/wav", headers=with_token).status_code == 200
    assert guarded.post("/pred", json={"id": "03a01Fa"}, headers=with_token).status_code == 200
    for route in ("/health", "/ready", "/model", "/openapi.json", "/"):
        assert guarded.get(route).status_code == 200, route


def wav_bytes(signal: np.ndarray, sr: int = SR, subtype: str = "PCM_16", fmt: str = "WAV") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, signal, sr, subtype=subtype, format=fmt)
    return buffer.getvalue()


def test_pred_by_id_keeps_original_shape_and_adds_probabilities(client, served):
    response = client.post("/pred", json={"id": "03a01Fa"})
    assert response.status_code == 200
    body = response.json
    assert body["class"] == {"code": "F", "emotion": "happiness", "label": 5}
    assert set(body["probabilities"]) == {"neutral", "anger", "boredom", "disgust", "fear", "happiness", "sadness"}
    assert sum(body["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert body["model_version"] == ModelArtifact.load(served.model_dir).version


@pytest.mark.parametrize("bad_id", ["../etc/passwd", "03a01Fa.wav", "03a01F", "", 42, None, ["03a01Fa"], "03/01Fa"])
def test_malformed_id_is_400(client, bad_id):
    response = client.post("/pred", json={"id": bad_id})
    assert response.status_code == 400
    assert "malformed id" in response.json["error"]


@pytest.mark.parametrize("unknown", ["03a01Fz", "99a01Fa", "16b10Ta"])
def test_unknown_id_is_404(client, unknown):
    response = client.post("/pred", json={"id": unknown})
    assert response.status_code == 404
    assert response.json == {"error": f"unknown id '{unknown}': no such EmoDB recording", "status": 404}


def test_batch_of_ids_shares_the_single_path(client):
    single = client.post("/pred", json={"id": "08a02Wa"}).json
    batch = client.post("/pred", json={"ids": ["03a01Fa", "08a02Wa"]}).json
    assert [p["id"] for p in batch["predictions"]] == ["03a01Fa", "08a02Wa"]
    assert batch["predictions"][1]["probabilities"] == single["probabilities"]
    assert client.post("/pred", json={"ids": []}).status_code == 400
    assert client.post("/pred", json={"ids": ["03a01Fa"] * 101}).status_code == 400


def test_features_identical_for_train_and_serve(served):
    config = ModelArtifact.load(served.model_dir).feature_config
    assert config == FeatureConfig()  # the served model extracts what params.yaml says (the encoders included)
    pipeline_row = feature_table(served.wav_dir, config).loc["09a01Wa"].to_numpy()
    by_id = RecordingFeatures(served.wav_dir).get("09a01Wa", config)
    uploaded, _ = features_of_audio((served.wav_dir / "09a01Wa.wav").read_bytes(), config)
    assert np.array_equal(pipeline_row, by_id)
    assert np.array_equal(pipeline_row, uploaded.astype(np.float32))


def test_upload_of_a_recording_predicts_like_its_id(client, served):
    by_id = client.post("/pred", json={"id": "10a02Ta"}).json
    data = (served.wav_dir / "10a02Ta.wav").read_bytes()
    upload = client.post("/pred", data={"file": (io.BytesIO(data), "call.wav")}, content_type="multipart/form-data")
    raw = client.post("/pred", data=data, content_type="audio/wav")
    for response in (upload, raw):
        assert response.status_code == 200
        assert response.json["probabilities"] == by_id["probabilities"]
        assert response.json["duration_s"] == pytest.approx(0.25, abs=1e-3)


def test_one_channel_of_a_stereo_upload_is_classified_alone(client):
    left, right = synthetic_signal("03a01Wa"), synthetic_signal("08a01Ta")  # anger, sadness to the test model
    stereo = wav_bytes(np.stack([left, right], axis=1), subtype="FLOAT")
    answers = []
    for channel, alone in ((0, left), (1, right)):
        answer = client.post(f"/pred?channel={channel}", data=stereo, content_type="audio/wav").json
        expected = client.post("/pred", data=wav_bytes(alone, subtype="FLOAT"), content_type="audio/wav").json
        assert answer["probabilities"] == expected["probabilities"] and answer["channel"] == channel
        answers.append(answer["probabilities"])
    assert answers[0] != answers[1]  # the two channels are told apart
    mixed = client.post("/pred", data=stereo, content_type="audio/wav").json
    mono = wav_bytes((left + right) / 2, subtype="FLOAT")
    assert "channel" not in mixed
    assert mixed["probabilities"] == client.post("/pred", data=mono, content_type="audio/wav").json["probabilities"]
    missing = client.post("/pred?channel=2", data=stereo, content_type="audio/wav")
    assert (
        missing.status_code == 422 and missing.json["error"] == "channel 2 does not exist: the audio has 2 (0 = left)"
    )
    assert client.post("/pred?channel=left", data=stereo, content_type="audio/wav").status_code == 400


@pytest.mark.parametrize(
    ("sr", "subtype", "fmt", "channels"),
    [
        (8000, "ULAW", "WAV", 1),
        (8000, "ALAW", "WAV", 1),
        (44100, "PCM_24", "WAV", 2),
        (48000, "FLOAT", "WAV", 1),
        (22050, "PCM_16", "FLAC", 2),
        (16000, "VORBIS", "OGG", 1),
        (16000, "MPEG_LAYER_III", "MP3", 1),
        (8000, "GSM610", "WAV", 1),
        (8000, "IMA_ADPCM", "WAV", 1),
        (8000, "MS_ADPCM", "WAV", 2),
        (16000, "OPUS", "OGG", 1),
    ],
)
def test_telephone_and_other_formats_are_accepted(client, sr, subtype, fmt, channels):
    signal = synthetic_signal("03a01Fa", 1.0)
    signal = np.interp(np.arange(int(sr * 1.0)) * SR / sr, np.arange(signal.size), signal)
    if channels == 2:
        signal = np.stack([signal, signal], axis=1)
    response = client.post("/pred", data=wav_bytes(signal, sr, subtype, fmt), content_type="audio/wav")
    assert response.status_code == 200, response.json
    padding = 0.01 if subtype.startswith(("PCM", "FLOAT", "ULAW", "ALAW", "VORBIS")) else 0.05  # codec blocks
    assert response.json["duration_s"] == pytest.approx(1.0, abs=padding)


def _narrowband_utterance(suffix: str) -> bytes:
    signal = synthetic_signal("03a01Fa", 1.0)
    return headerless(np.interp(np.arange(8000) * 2, np.arange(signal.size), signal), suffix)


@pytest.mark.parametrize(
    ("suffix", "file_name", "content_type"),
    [(".ul", "call.ulaw", "audio/basic"), (".g726-32", "call.g726-32", "audio/G726-32")],
)
def test_headerless_telephone_audio_is_read_as_its_file_name_or_content_type_declares(
    client, suffix, file_name, content_type
):
    """A PBX's raw file (μ-law; G.726, whose rate its suffix names, as RFC 3551's media types do): by its suffix in a
    multipart upload, or as a body of its content type; never guessed."""
    data = _narrowband_utterance(suffix)
    named = client.post("/pred", data={"file": (io.BytesIO(data), file_name)})
    assert named.status_code == 200, named.json
    assert named.json["duration_s"] == pytest.approx(1.0, abs=0.01)
    body = client.post("/pred", data=data, content_type=content_type)
    assert body.status_code == 200 and body.json["probabilities"] == named.json["probabilities"]
    undeclared = client.post("/pred", data={"file": (io.BytesIO(data), "call.wav")})
    assert undeclared.status_code == 422 and "cannot decode" in undeclared.json["error"]


def test_headerless_length_and_rate_are_those_declared(client):
    too_long = headerless(np.full(8000 * 70, 0.1, np.float32), ".ul")
    assert client.post("/pred", data=too_long, content_type="audio/PCMU").status_code == 413
    g726_32 = _narrowband_utterance(".g726-32")
    misdeclared = client.post("/pred", data={"file": (io.BytesIO(g726_32), "call.g726-16")})  # 2 bits a sample
    assert misdeclared.status_code == 200 and misdeclared.json["duration_s"] == pytest.approx(2.0, abs=0.01)


@pytest.mark.parametrize(("encoder", "container"), [("aac", "ipod"), ("libopencore_amrnb", "amr")])
def test_smartphone_and_mobile_formats_are_accepted(client, encoder, container):
    """M4A/AAC and AMR-NB: libsndfile cannot read them; FFmpeg (PyAV) decodes them, by upload and raw body."""
    signal = synthetic_signal("03a01Fa", 1.0)
    signal = np.interp(np.arange(8000) * 2, np.arange(signal.size), signal)
    data = ffmpeg_encode(signal, 8000, encoder, container, 12200 if container == "amr" else 24000)
    response = client.post("/pred", data={"file": (io.BytesIO(data), "call.m4a")})
    assert response.status_code == 200, response.json
    assert response.json["duration_s"] == pytest.approx(1.0, abs=0.2)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"", "audio/wav", 422, "empty"),
        (b"RIFF1234WAVEjunkjunk", "audio/wav", 422, "cannot decode"),
        (np.random.default_rng(0).bytes(5000), "audio/wav", 422, "cannot decode"),
        (wav_bytes(np.zeros(SR, dtype=np.float32)), "audio/wav", 422, "silent"),
        (wav_bytes(np.ones(1, dtype=np.float32) * 0.5), "audio/wav", 422, "too short"),
        (wav_bytes(np.full(SR, np.nan, dtype=np.float32), subtype="FLOAT"), "audio/wav", 422, "NaN"),
        (b"id=03a01Fa", "application/x-www-form-urlencoded", 415, "unsupported content type"),
        (b"{not json", "application/json", 400, "JSON object"),
        (b'["03a01Fa"]', "application/json", 400, "JSON object"),
        (b'{"name": "03a01Fa"}', "application/json", 400, 'needs "id"'),
    ],
)
def test_bad_input_gets_a_clear_json_error(client, body, content_type, status, message):
    response = client.post("/pred", data=body, content_type=content_type)
    assert response.status_code == status
    assert message in response.json["error"] and response.json["status"] == status


def test_multipart_without_file_is_400(client):
    response = client.post("/pred", data={"other": "x"}, content_type="multipart/form-data")
    assert response.status_code == 400 and '"file" field' in response.json["error"]


def test_too_long_audio_is_413(served):
    client = create_app(dataclasses.replace(served, max_audio_seconds=2.0)).test_client()
    response = client.post("/pred", data=wav_bytes(synthetic_signal("03a01Fa", 3.0)), content_type="audio/wav")
    assert response.status_code == 413 and "more than the 2 s allowed" in response.json["error"]


def test_body_over_upload_limit_is_413(served):
    client = create_app(dataclasses.replace(served, max_upload_bytes=10_000)).test_client()
    response = client.post("/pred", data=wav_bytes(synthetic_signal("03a01Fa", 1.0)), content_type="audio/wav")
    assert response.status_code == 413 and "too large" in response.json["error"]


def test_wrong_method_is_405_json(client):
    response = client.get("/pred")
    assert response.status_code == 405 and response.json["status"] == 405


def test_health_ready_and_model(client, served):
    assert client.get("/health").json == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json["ready"] is True
    model = client.get("/model").json
    assert model["model_version"] == ready.json["model_version"]
    assert model["metrics"]["accuracy"] == 0.9
    assert model["metadata"]["classes"][0]["emotion"] == "neutral"


def test_not_ready_without_model(tmp_path, served):
    settings = dataclasses.replace(served, model_dir=tmp_path / "none")
    client = create_app(settings).test_client()
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == 503
    response = client.post("/pred", json={"id": "03a01Fa"})
    assert response.status_code == 503 and "no model" in response.json["error"]


def test_new_artifact_is_served_without_restart_and_partial_one_is_not(tmp_path, served):
    import shutil

    model_dir = tmp_path / "model"
    shutil.copytree(served.model_dir, model_dir)
    client = create_app(dataclasses.replace(served, model_dir=model_dir)).test_client()
    old = client.post("/pred", json={"id": "03a01Fa"}).json["model_version"]

    table = feature_table(served.wav_dir, light_config())
    labels = [int("NWLEAFT".index(i[5])) for i in table.index]
    new = train({"family": "rf", "n_estimators": 5, "seed": 1}, light_config(), table.to_numpy(), labels, {})
    new.save(model_dir)
    assert client.post("/pred", json={"id": "03a01Fa"}).json["model_version"] == new.version != old

    metadata = json.loads((model_dir / METADATA_FILE).read_text())
    metadata.update(model_version="f" * 12, model_sha256="0" * 64)
    (model_dir / METADATA_FILE).write_text(json.dumps(metadata))
    assert client.post("/pred", json={"id": "03a01Fa"}).json["model_version"] == new.version
    assert client.get("/ready").json["model_version"] == new.version


@pytest.mark.parametrize(
    ("encoder", "settings"), [("voice_encoder", {"voice_encoder": True}), ("whisper_encoder", {"whisper_blocks": 1})]
)
def test_model_whose_encoder_weights_are_missing_is_not_loaded(tmp_path, served, monkeypatch, encoder, settings):
    import importlib
    import shutil

    from ser.features import pretrained

    module = importlib.import_module(f"ser.features.{encoder}")
    model_dir = tmp_path / "model"
    shutil.copytree(served.model_dir, model_dir)
    client = create_app(dataclasses.replace(served, model_dir=model_dir)).test_client()
    old = client.post("/pred", json={"id": "03a01Fa"}).json["model_version"]

    config = light_config(n_mfcc=13, **settings)
    table = feature_table(served.wav_dir, config)
    labels = [int("NWLEAFT".index(i[5])) for i in table.index]
    new = train({"family": "logreg", "seed": 1}, config, table.to_numpy(), labels, {})
    if encoder == "voice_encoder":
        monkeypatch.setattr(module, "_weights", None)
    else:
        monkeypatch.setattr(module, "_encoders", {})
    monkeypatch.setattr(pretrained.importlib.util, "find_spec", lambda name: None)
    new.save(model_dir)
    assert client.post("/pred", json={"id": "03a01Fa"}).json["model_version"] == old != new.version
    monkeypatch.undo()
    assert client.post("/pred", json={"id": "03a01Fa"}).json["model_version"] == new.version


def test_openapi_document_describes_the_routes(client):
    spec = client.get("/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert {"/pred", "/train", "/train/{job_id}", "/health", "/ready", "/model"} <= set(spec["paths"])
    assert "Prediction" in spec["components"]["schemas"]
