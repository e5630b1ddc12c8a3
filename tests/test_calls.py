"""Call analysis on synthetic calls: segmentation, per-segment emotions, channels, satisfaction; CLI and /analyze."""

import dataclasses
import io
import json

import numpy as np
import pytest
import soundfile as sf

from ser import cli
from ser.inference.calls import AnalysisConfig, analyze, satisfaction, segment
from ser.inference.predictor import Predictor
from serve.app import create_app
from tests.api_fixtures import build_served_project
from tests.audio_samples import encode
from tests.synthetic import SR, synthetic_signal

pytestmark = pytest.mark.unit

UTTERANCES = ["03a01Fa", "08a01Wa", "03a02Ta", "08a02Na", "03a01Ea"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    return build_served_project(tmp_path_factory.mktemp("calls"))


@pytest.fixture(scope="module")
def predictor(served):
    return Predictor.load(served.model_dir)


def build_call(ids, gaps, seconds=1.0):
    """Utterances separated by silences of the given lengths; returns the signal and the true (start, end)."""
    parts, truth, t = [], [], 0.0
    for utterance_id, gap in zip(ids, gaps, strict=True):
        parts.append(np.zeros(int(gap * SR), np.float32))
        t += gap
        signal = synthetic_signal(utterance_id, seconds)
        parts.append(signal)
        truth.append((t, t + signal.size / SR))
        t += signal.size / SR
    parts.append(np.zeros(SR // 2, np.float32))
    return np.concatenate(parts), truth


def emotion_of_file(predictor, data: bytes) -> str:
    return predictor.predict_audio(data)["class"]["emotion"]


def test_worker_processes_give_the_same_analysis(predictor):
    call, _ = build_call(UTTERANCES, [0.7, 1.2, 0.5, 2.0, 0.9])
    assert analyze(encode(call), predictor, AnalysisConfig(), workers=2) == analyze(
        encode(call), predictor, AnalysisConfig()
    )


def test_one_segment_per_utterance_with_boundaries_and_emotions(predictor):
    call, truth = build_call(UTTERANCES, [0.7, 1.2, 0.5, 2.0, 0.9])
    result = analyze(encode(call), predictor, AnalysisConfig())
    assert len(result["timeline"]) == len(UTTERANCES)
    for item, (start, end), utterance_id in zip(result["timeline"], truth, UTTERANCES, strict=True):
        assert abs(item["start_s"] - start) <= 0.3 and abs(item["end_s"] - end) <= 0.3
        assert item["emotion"] == emotion_of_file(predictor, encode(synthetic_signal(utterance_id, 1.0)))
        assert -1 <= item["satisfaction"] <= 1 and sum(item["probabilities"].values()) == pytest.approx(1, abs=1e-4)
    summary = result["summary"]["0"]
    assert summary["segments"] == 5 and sum(summary["emotion_shares"].values()) == pytest.approx(1, abs=1e-3)
    assert result["satisfaction"] == summary["satisfaction"]


def test_telephone_mulaw_8k_call_is_segmented_the_same(predictor):
    call, truth = build_call(UTTERANCES, [0.7, 1.2, 0.5, 2.0, 0.9])
    telephone = encode(call[::2], 8000, "ULAW")
    result = analyze(telephone, predictor, AnalysisConfig())
    assert len(result["timeline"]) == len(UTTERANCES)
    for item, (start, end) in zip(result["timeline"], truth, strict=True):
        assert abs(item["start_s"] - start) <= 0.3 and abs(item["end_s"] - end) <= 0.3


def test_stereo_channels_are_analysed_separately(predictor):
    agent, _ = build_call(["03a01Na", "08a01Na"], [0.5, 3.0])
    customer, customer_truth = build_call(["03a01Wa", "08a01Wa"], [2.0, 1.5])
    n = max(agent.size, customer.size)
    stereo = np.stack([np.pad(agent, (0, n - agent.size)), np.pad(customer, (0, n - customer.size))], axis=1)
    result = analyze(encode(stereo), predictor, AnalysisConfig(), per_channel=True)
    assert result["channels"] == 2 and set(result["summary"]) == {"0", "1"}
    channel = {c: [t for t in result["timeline"] if t["channel"] == c] for c in (0, 1)}
    assert len(channel[0]) == 2 and len(channel[1]) == 2
    assert abs(channel[1][0]["start_s"] - customer_truth[0][0]) <= 0.3
    mono = analyze(encode(stereo), predictor, AnalysisConfig())
    assert {t["channel"] for t in mono["timeline"]} == {0} and mono["channels"] == 2


@pytest.mark.parametrize("signal", [np.zeros(SR * 5, np.float32), np.full(SR * 5, 1e-5, np.float32)])
def test_silence_only_gives_a_valid_result_without_segments(predictor, signal):
    result = analyze(encode(signal, subtype="FLOAT"), predictor, AnalysisConfig())
    assert result["timeline"] == [] and result["summary"] == {} and result["satisfaction"] is None
    assert result["duration_s"] == pytest.approx(5.0)


def test_long_segments_are_split_and_duration_limit_is_read_from_the_header(predictor):
    long_speech = np.tile(synthetic_signal("03a01Fa", 1.0), 25)
    segments, _, _ = segment(encode(long_speech), False, AnalysisConfig(max_segment_s=10.0))
    assert len(segments) == 3 and all(s.end_s - s.start_s <= 10.2 for s in segments)
    with pytest.raises(ValueError, match="more than the 10 s allowed"):
        analyze(encode(long_speech), predictor, AnalysisConfig(), max_seconds=10)


def test_satisfaction_is_the_expected_weight():
    weights = AnalysisConfig().satisfaction_weights
    assert satisfaction({"happiness": 1.0}, weights) == 1.0
    assert satisfaction({"anger": 1.0}, weights) == -1.0
    assert satisfaction({"anger": 0.5, "happiness": 0.5}, weights) == 0.0
    with pytest.raises(ValueError, match="weights in"):
        AnalysisConfig(satisfaction_weights={"joy": 1.0})


def test_cli_predict_and_analyze(served, tmp_path, capsys):
    wav = tmp_path / "utterance.wav"
    wav.write_bytes(encode(synthetic_signal("08a01Wa", 1.0)))
    call, _ = build_call(UTTERANCES, [0.7, 1.2, 0.5, 2.0, 0.9])
    call_file = tmp_path / "call.wav"
    call_file.write_bytes(encode(call, 8000 * 2))
    model = ["--model", str(served.model_dir)]
    assert cli.main([*model, "predict", str(wav), str(wav), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 and rows[0]["class"]["emotion"] == rows[1]["class"]["emotion"]
    assert cli.main([*model, "predict", str(wav)]) == 0
    assert capsys.readouterr().out.startswith(f"{wav}: ")
    assert cli.main([*model, "analyze", str(call_file), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["timeline"]) == 5
    assert cli.main([*model, "analyze", str(call_file)]) == 0
    assert "satisfaction (-1 unsatisfied .. +1 satisfied)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["predict", "missing.wav"], "error: no such file: missing.wav"),
        (["analyze", "missing.wav"], "error: no such file: missing.wav"),
        (["predict", "{garbage}"], "error: {garbage}: cannot decode audio: unsupported format or damaged file"),
        (["analyze", "{garbage}"], "error: cannot decode audio: unsupported format or damaged file"),
        (["predict", "{silence}"], "error: {silence}: audio is silent"),
    ],
)
def test_cli_errors_are_one_line(served, tmp_path, capsys, argv, message):
    garbage, silence = tmp_path / "garbage.wav", tmp_path / "silence.wav"
    garbage.write_bytes(b"not audio at all")
    silence.write_bytes(encode(np.zeros(SR, np.float32)))
    argv = [a.format(garbage=garbage, silence=silence) for a in argv]
    assert cli.main(["--model", str(served.model_dir), *argv]) == 1
    err = capsys.readouterr().err.strip()
    assert err == message.format(garbage=garbage, silence=silence) and "\n" not in err


def test_cli_without_model_is_one_line(tmp_path, capsys):
    assert cli.main(["--model", str(tmp_path / "none"), "predict", "x.wav"]) == 1
    assert capsys.readouterr().err.startswith("error: no model artifact at")


def test_analyze_endpoint(served):
    client = create_app(dataclasses.replace(served, max_call_seconds=20)).test_client()
    call, _ = build_call(UTTERANCES, [0.7, 1.2, 0.5, 2.0, 0.9])
    response = client.post("/analyze", data={"file": (io.BytesIO(encode(call)), "call.wav")})
    assert response.status_code == 200
    assert len(response.json["timeline"]) == 5 and response.json["model_version"]
    long_call = encode(np.tile(call, 3))
    assert client.post("/analyze", data=long_call, content_type="audio/wav").status_code == 413
    assert client.post("/analyze", data=b"junk", content_type="audio/wav").status_code == 422
    assert client.post("/analyze", json={"id": "03a01Fa"}).status_code == 415
    assert client.post("/analyze?channels=left", data=encode(call), content_type="audio/wav").status_code == 400


def test_web_page_is_served(served):
    response = create_app(served).test_client().get("/")
    assert response.status_code == 200 and b'<form id="upload"' in response.data


def test_a_call_in_a_format_that_cannot_seek_is_analysed_like_its_wav(tmp_path):
    """GSM 06.10 WAV (libsndfile reads it front to back only) gives the timeline of the same call as PCM WAV."""
    from ser.audio.decoding import seekable

    call = np.concatenate([np.zeros(4000), 0.5 * np.sin(2 * np.pi * 200 * np.arange(8000) / 8000), np.zeros(4000)])
    gsm = tmp_path / "call.wav"
    sf.write(gsm, call, 8000, subtype="GSM610")
    with seekable(gsm) as readable:
        assert readable != gsm
        with sf.SoundFile(readable) as audio_file:
            assert audio_file.seekable() and audio_file.samplerate == 8000
            assert audio_file.frames == pytest.approx(16000, abs=400)
    pcm = tmp_path / "pcm.wav"
    sf.write(pcm, call, 8000)
    with seekable(pcm) as readable:
        assert readable == pcm


def test_analysis_defaults_are_the_params_file_values():
    """One place for every default: the dataclass's defaults equal params.yaml's analysis block."""
    from tests.project_copy import ROOT

    assert AnalysisConfig() == AnalysisConfig.from_params_file(ROOT / "params.yaml")
