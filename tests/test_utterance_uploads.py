"""Uploads of several utterances (``ser.inference.utterances``): `/pred` and `ser predict` classify each utterance,
found as in a mono call, and pool their answers; one utterance is classified whole, as before."""

import json

import numpy as np
import pytest
import soundfile as sf

from ser import cli
from ser.inference.analysis_config import AnalysisConfig
from ser.inference.predictor import Predictor
from serve.app import create_app
from tests.api_fixtures import build_served_project
from tests.speech import SENTENCES, SR, VOICES, needs_espeak, say, wav_bytes

pytestmark = [pytest.mark.system, needs_espeak]

PAUSE_S = 1.0


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    return build_served_project(tmp_path_factory.mktemp("utterances"))


@pytest.fixture(scope="module")
def predictor(served):
    return Predictor.load(served.model_dir)


def _upload(*sentences: str) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The sentences in one voice, ``PAUSE_S`` apart, with half a second before and after and faint line noise; and
    where each one is (s)."""
    pause, parts, spans, t = np.zeros(int(PAUSE_S * SR), np.float32), [np.zeros(SR // 2, np.float32)], [], 0.5
    for index, sentence in enumerate(sentences):
        voice = say(sentence, VOICES[0])
        parts += [pause] if index else []
        t += PAUSE_S if index else 0.0
        spans.append((t, t + len(voice) / SR))
        parts.append(voice)
        t += len(voice) / SR
    parts.append(np.zeros(SR // 2, np.float32))
    signal = np.concatenate(parts)
    return signal + np.random.default_rng(0).standard_normal(signal.size).astype(np.float32) * 0.002, spans


def test_an_upload_of_several_utterances_is_classified_one_by_one_and_pooled(predictor):
    signal, spans = _upload(SENTENCES[1], SENTENCES[3])
    answer = predictor.predict_audio(wav_bytes(signal), speech=AnalysisConfig())
    items = answer["utterances"]
    assert len(items) == len(spans)
    for item, (start, end) in zip(items, spans, strict=True):
        assert abs(item["start_s"] - start) <= 0.3 and abs(item["end_s"] - end) <= 0.3, (item, start, end)
        alone = predictor.predict_audio(wav_bytes(signal[int(start * SR) : int(end * SR)]))
        assert item["emotion"] == alone["class"]["emotion"]
    weights = np.array([item["end_s"] - item["start_s"] for item in items])
    for emotion, p in answer["probabilities"].items():
        expected = weights @ [item["probabilities"][emotion] for item in items] / weights.sum()
        assert p == pytest.approx(expected, abs=2e-6)
    assert answer["class"]["emotion"] == max(answer["probabilities"], key=answer["probabilities"].get)
    whole = predictor.predict_audio(wav_bytes(signal))
    assert len(whole["utterances"]) == 1 and whole["utterances"][0]["start_s"] == 0.0
    assert whole["utterances"][0]["end_s"] == whole["duration_s"] == answer["duration_s"]


def test_one_utterance_is_classified_whole_as_before(predictor):
    signal, _ = _upload(SENTENCES[1])
    split = predictor.predict_audio(wav_bytes(signal), speech=AnalysisConfig())
    whole = predictor.predict_audio(wav_bytes(signal))
    assert split == whole
    assert split["utterances"] == [
        {"start_s": 0.0, "end_s": whole["duration_s"], "emotion": whole["class"]["emotion"],
         "probabilities": whole["probabilities"]}
    ]  # fmt: skip


def test_pred_and_the_cli_split_by_default_and_take_whole_on_request(served, tmp_path, capsys):
    signal, spans = _upload(SENTENCES[1], SENTENCES[3], SENTENCES[5])
    client = create_app(served).test_client()
    split = client.post("/pred", data=wav_bytes(signal), content_type="audio/wav")
    assert split.status_code == 200 and len(split.json["utterances"]) == len(spans)
    whole = client.post("/pred?utterances=whole", data=wav_bytes(signal), content_type="audio/wav")
    assert whole.status_code == 200 and len(whole.json["utterances"]) == 1
    bad = client.post("/pred?utterances=each", data=wav_bytes(signal), content_type="audio/wav")
    assert bad.status_code == 400 and bad.json["error"].startswith("utterances must be 'split'")
    upload = tmp_path / "three.wav"
    sf.write(upload, signal, SR)
    params = served.project_dir / "params.yaml"
    argv = ["--model", str(served.model_dir), "predict", str(upload), "--params", str(params)]
    assert cli.main(argv) == 0
    assert f", {len(spans)} utterances]" in capsys.readouterr().out
    assert cli.main([*argv, "--utterances", "whole", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["probabilities"] == whole.json["probabilities"]
