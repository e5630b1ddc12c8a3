"""Uploads of several utterances (``ser.inference.utterances``): `/pred` and `ser predict` classify each utterance,
found as in a mono call, each from its window without the silence or noise around it, and pool their answers."""

import json

import numpy as np
import pytest
import soundfile as sf

from ser import cli
from ser.features.extractor import extract
from ser.inference import utterances as utterances_module
from ser.inference.analysis_config import AnalysisConfig
from ser.inference.utterances import utterances
from serve.app import create_app
from tests.speech import SENTENCES, SR, VOICES, needs_espeak, say, wav_bytes

pytestmark = [pytest.mark.system, needs_espeak]

PAUSE_S = 1.0


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


def test_one_utterance_is_classified_without_the_noise_around_it(predictor):
    signal, [(start, end)] = _upload(SENTENCES[1])
    padded = signal + np.random.default_rng(1).standard_normal(signal.size).astype(np.float32) * 10 ** (-40 / 20)
    config = predictor.feature_config
    [utterance] = utterances(padded, SR, AnalysisConfig(), config.min_samples)
    assert abs(utterance.start_s - start) <= 0.3 and abs(utterance.end_s - end) <= 0.3, utterance

    def apart(x: np.ndarray, y: np.ndarray) -> float:  # median relative difference of two feature vectors
        return float(np.median(np.abs(x - y) / (np.abs(x) + np.abs(y) + 1e-9)))

    tight = extract(padded[int(start * SR) : int(end * SR)], SR, config)
    window = extract(utterance.samples, SR, config)
    assert apart(window, tight) < 0.7 * apart(extract(padded, SR, config), tight)  # measured: 0.024 vs 0.047
    answer = predictor.predict_audio(wav_bytes(padded), speech=AnalysisConfig())
    assert answer["probabilities"] == predictor.predict_features(window)[0]["probabilities"]
    assert answer["utterances"][0]["start_s"] == utterance.start_s and len(answer["utterances"]) == 1


def test_utterances_found_are_speech_heard_without_the_checks_second_pass(predictor, monkeypatch):
    """The detector accepted an utterance (0.5 s at 0.7 by default): speech was heard, and the check, a second pass
    of the detector over the upload, is spared; classified whole, the upload still gets the check."""
    signal, _ = _upload(SENTENCES[1])
    checks: list[int] = []
    monkeypatch.setattr(utterances_module, "hears_speech", lambda *args, **kwargs: checks.append(1) or True)
    split = predictor.predict_audio(wav_bytes(signal), speech=AnalysisConfig())
    assert len(split["utterances"]) == 1 and split["speech_heard"] is True and "warning" not in split
    assert checks == []
    assert predictor.predict_audio(wav_bytes(signal))["speech_heard"] is True and checks == [1]


def test_an_upload_without_speech_the_detector_accepts_is_classified_whole(predictor):
    hum = (0.1 * np.sin(2 * np.pi * 150 * np.arange(3 * SR) / SR)).astype(np.float32)
    split = predictor.predict_audio(wav_bytes(hum), speech=AnalysisConfig())
    assert split == predictor.predict_audio(wav_bytes(hum)) and split["speech_heard"] is False
    assert [(u["start_s"], u["end_s"]) for u in split["utterances"]] == [(0.0, split["duration_s"])]


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
