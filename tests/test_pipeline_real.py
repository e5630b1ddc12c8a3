"""The real pipeline on the real EmoDB archive, in a throw-away copy of the project.

Needs the archive through the explicit override SER_EMODB_SOURCE (CI sets it to ../shared/emodb/download.zip). The
pipeline starts in the background when the test run begins (``tests/real_archive.py``); these tests run last.
"""

import json
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from ser.audio.channels import Condition
from ser.inference.analysis_config import AnalysisConfig
from ser.inference.calls import analyze
from ser.inference.diarisation import diarisation_error_rate
from ser.inference.predictor import Predictor
from ser.models.artifact import ArtifactError, ModelArtifact
from tests import real_archive
from tests.audio_samples import encode
from tests.project_copy import ROOT, run
from tests.real_archive import TEST_CV

pytestmark = [
    pytest.mark.system,
    pytest.mark.real_data,
    pytest.mark.pipeline,
    pytest.mark.skipif(not real_archive.requested(), reason="set SER_EMODB_SOURCE to the EmoDB zip"),
]


def ran_stages(output: str) -> list[str]:
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")]


@pytest.fixture(scope="module")
def project(real_archive_pipeline):
    """The project copy whose `dvc repro` the test run started in the background (``tests/real_archive.py``)."""
    if real_archive_pipeline is None:
        pytest.fail(f"SER_EMODB_SOURCE={real_archive.ARCHIVE!r} is not a file: the real-archive tests cannot run")
    result = real_archive_pipeline.wait()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return real_archive_pipeline.project, real_archive_pipeline.env


def test_default_split_is_428_train_107_test(project):
    path, _ = project
    train = pd.read_csv(path / "data/split/train.csv", dtype={"speaker": str})
    test = pd.read_csv(path / "data/split/test.csv", dtype={"speaker": str})
    assert (len(train), len(test)) == (428, 107)
    assert sorted(set(train["speaker"])) == ["09", "10", "11", "12", "13", "14", "15", "16"]


def test_metrics_beat_the_proof_of_concept_and_the_classical_baseline(project):
    path, env = project
    metrics = json.loads((path / "reports/metrics.json").read_text())
    assert metrics["n"] == 107
    # Measured 0.907 on clean audio (issue #14's multi-condition MLP with label smoothing 0.1 and a class-balanced
    # loss, a seed ensemble of four networks, Whisper's products in int8; with float32 Whisper 0.897, one network
    # 0.916, without the class weights 0.897; the clean-only logreg
    # of issue #5 had 0.907; proof of concept 0.61-0.64, ComParE + SVM 0.86); the exact figure is checked in
    # test_the_committed_figures_come_back_bit_for_bit, this floor keeps a regression visible when dvc.lock changes.
    assert metrics["accuracy"] >= 0.86
    # The served model (model.family mlp, hidden 200, label smoothing 0.1, class_weight balanced, members 4) in the
    # CV: UAR averaged over the 15 conditions and on clean audio. Measured 0.880 / 0.921 (session 42, trained without
    # MKL; session 30 on MKL 0.881 / 0.924); its first network alone 0.869 / 0.904 (0.878 / 0.913 on MKL; logreg C 0.1
    # 0.854 / 0.893).
    results = pd.read_csv(path / "reports/cv/results.csv").set_index("candidate")
    assert results.loc["mlp_200_ls_bal_x4", "uar_mean"] >= 0.85
    assert results.loc["mlp_200_ls_bal_x4", "uar_clean"] >= 0.89
    assert results.loc["mlp_200_ls_bal", "uar_mean"] >= 0.84
    summary = json.loads((path / "reports/cv/summary.json").read_text())
    assert summary["best_uar_mean"] >= 0.83
    shown = run(["dvc", "metrics", "show", "--json"], path, env)
    assert shown.returncode == 0 and "accuracy" in shown.stdout


def test_speaker_norm_variant_has_its_own_labelled_metrics(project):
    path, _ = project
    cv = json.loads((path / "reports/speaker_norm/cv.json").read_text())
    assert cv["variant"] == "speaker_norm" and cv["speakers"] == ["09", "10", "11", "12", "13", "14", "15", "16"]
    assert cv["uar_mean"] >= 0.91  # measured 0.929
    metrics = json.loads((path / "reports/speaker_norm/metrics.json").read_text())
    assert metrics["variant"] == "speaker_norm" and metrics["n"] == 107
    assert metrics["accuracy"] >= 0.91  # measured 0.935
    headline = json.loads((path / "reports/metrics.json").read_text())
    assert "variant" not in headline
    with pytest.raises(ArtifactError, match="holds speaker_norm"):
        ModelArtifact.load(path / "models/speaker_norm")


def test_cv_scores_every_candidate_on_every_condition(project):
    path, _ = project
    results = pd.read_csv(path / "reports/cv/results.csv")
    summary = json.loads((path / "reports/cv/summary.json").read_text())
    assert list(results["candidate"]) == list(TEST_CV["candidates"])
    for condition in summary["score_conditions"]:
        assert results[f"uar_{condition}"].between(0, 1).all()
    assert summary["train_conditions"] == ["clean", "phone", "noisy_line", "room", "phrased"]


def test_second_repro_is_a_no_op(project):
    path, env = project
    result = run(["dvc", "repro"], path, env)
    assert result.returncode == 0 and ran_stages(result.stdout) == []


def _call(wav_dir: Path, ids: list[str], seed: int) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Test-speaker utterances separated by silences of random, known length (16 kHz)."""
    rng = np.random.default_rng(seed)
    parts, truth, t = [], [], 0.0
    for utterance_id in ids:
        gap = float(rng.uniform(0.5, 1.5))
        signal, _ = sf.read(wav_dir / f"{utterance_id}.wav", dtype="float32")
        parts += [np.zeros(round(gap * 16000), np.float32), signal]
        truth.append((t + gap, t + gap + signal.size / 16000))
        t += gap + signal.size / 16000
    parts.append(np.zeros(16000, np.float32))
    return np.concatenate(parts), truth


def _as_telephone(signal: np.ndarray) -> bytes:
    """Resampled to 8 kHz and stored as mu-law WAV, as call centres record."""
    return encode(librosa.resample(signal, orig_sr=16000, target_sr=8000), 8000, "ULAW")


@pytest.mark.parametrize("variant", ["16k", "8k_mulaw", "stereo"])
def test_calls_of_test_speakers_are_segmented_and_classified_like_their_utterances(project, variant):
    path, _ = project
    artifact = ModelArtifact.load(path / "models/model")
    wav_dir = path / "data/raw/wav"
    test_ids = sorted(p.stem for p in wav_dir.glob("0[38]*.wav"))
    channels = [test_ids[0:107:9], test_ids[4:107:9]] if variant == "stereo" else [test_ids[0:107:9]]
    calls = [_call(wav_dir, ids, seed) for seed, ids in enumerate(channels)]
    if variant == "stereo":
        n = max(c[0].size for c in calls)
        audio = encode(np.stack([np.pad(c[0], (0, n - c[0].size)) for c in calls], axis=1))
    else:
        audio = _as_telephone(calls[0][0]) if variant == "8k_mulaw" else encode(calls[0][0])
    predictor = Predictor(artifact)
    result = analyze(audio, predictor, AnalysisConfig())
    assert result["separation"] == ("channels" if variant == "stereo" else "diarisation")
    if variant != "stereo":  # speakers 03 and 08 told apart by diarisation
        reference = [(start, end, int(i[:2])) for (start, end), i in zip(calls[0][1], channels[0], strict=True)]
        hypothesis = [(item["start_s"], item["end_s"], item["speaker"]) for item in result["timeline"]]
        assert diarisation_error_rate(reference, hypothesis) <= 0.15
    for channel, (ids, (_, truth)) in enumerate(zip(channels, calls, strict=True)):
        segments = [item for item in result["timeline"] if variant != "stereo" or item["speaker"] == channel]
        inside = [[s for s in segments if s["start_s"] < end and s["end_s"] > start] for start, end in truth]
        assert sum(map(len, inside)) == len(segments), "a segment outside every utterance"
        found, agree = 0, 0
        for hits, (start, end), utterance_id in zip(inside, truth, ids, strict=True):
            assert hits and all(start - 0.3 <= s["start_s"] and s["end_s"] <= end + 0.3 for s in hits), utterance_id
            if len(hits) > 1:  # a pause inside the utterance longer than min_gap_s (sad ones: up to 1.3 s)
                continue
            found += 1
            utterance, _ = sf.read(wav_dir / f"{utterance_id}.wav", dtype="float32")
            alone = _as_telephone(utterance) if variant == "8k_mulaw" else encode(utterance)
            agree += hits[0]["emotion"] == predictor.predict_audio(alone)["class"]["emotion"]
        # measured: 12/12, 12/12, 12/12 and 11/12 found (08a07Tb pauses); every found one agreed
        assert found >= len(ids) - 1 and agree >= found - 1, (variant, channel, found, agree)


def _turns_call(
    wav_dir: Path, ids: dict[str, list[str]], seed: int
) -> tuple[np.ndarray, list[tuple[float, float, int]]]:
    """A two-speaker call in turns of 1-3 utterances, 0.5-1.5 s apart (16 kHz), and its turns (start, end, speaker)."""
    rng = np.random.default_rng(seed)
    queues = {speaker: list(rng.permutation(utterances)) for speaker, utterances in ids.items()}
    speakers = list(queues)
    parts, turns, t, speaker = [], [], 0.0, speakers[0]
    while any(queues.values()):
        for _ in range(int(rng.integers(1, 4))):
            if queues[speaker]:
                signal, _ = sf.read(wav_dir / f"{queues[speaker].pop()}.wav", dtype="float32")
                gap = float(rng.uniform(0.5, 1.5))
                parts += [np.zeros(round(gap * 16000), np.float32), signal]
                turns.append((t + gap, t + gap + signal.size / 16000, int(speaker)))
                t += gap + signal.size / 16000
        speaker = speakers[1 - speakers.index(speaker)]
    return np.concatenate([*parts, np.zeros(16000, np.float32)]), turns


def test_a_mono_call_in_white_noise_is_diarised_by_voice_not_by_loudness(project):
    """White noise 10 dB under the call masks calm speech more than loud speech: without the line's noise gated out
    of what the voice encoder hears, the two clusters followed arousal (DER 0.4-0.5), not the voices."""
    path, _ = project
    wav_dir = path / "data/raw/wav"
    ids = {speaker: sorted(p.stem for p in wav_dir.glob(f"{speaker}*.wav"))[::2] for speaker in ("03", "08")}
    call, turns = _turns_call(wav_dir, ids, seed=0)
    white = Condition("white_10db", [{"noise": {"kind": "white", "snr_db": 10}}], 1, None)
    audio = encode(*white.apply(call, 16000, "call"), "FLOAT")
    predictor = Predictor(ModelArtifact.load(path / "models/model"))
    errors = {}
    for denoise in (True, False):
        result = analyze(audio, predictor, AnalysisConfig(denoise_voices=denoise))
        hypothesis = [(item["start_s"], item["end_s"], item["speaker"]) for item in result["timeline"]]
        errors[denoise] = diarisation_error_rate(turns, hypothesis)
    # measured (54 utterances): 0.066 with the noise gated out, 0.530 without
    assert errors[True] <= 0.15 and errors[False] > 0.25, errors


def _interrupted_call(wav_dir: Path, seed: int) -> tuple[np.ndarray, list[tuple[float, float, int]]]:
    """Every fourth recording of 03 and 08 in alternation; speaker 08 starts each utterance 0.3-0.6 s before 03
    stops (an interruption: no quiet between them), 03 answers 0.4-1.0 s after 08 (16 kHz, faint line noise)."""
    rng = np.random.default_rng(seed)
    ids = [sorted(p.stem for p in wav_dir.glob(f"{speaker}*.wav"))[::4] for speaker in ("03", "08")]
    placed, turns, t = [], [], 0.5
    for index, utterance in enumerate(u for pair in zip(*ids, strict=False) for u in pair):
        signal, _ = sf.read(wav_dir / f"{utterance}.wav", dtype="float32")
        if turns:
            t = turns[-1][1] - rng.uniform(0.3, 0.6) if index % 2 else turns[-1][1] + rng.uniform(0.4, 1.0)
        turns.append((t, t + signal.size / 16000, int(utterance[:2])))
        placed.append((round(t * 16000), signal))
    call = np.zeros(round(turns[-1][1] * 16000) + 16000, np.float32)
    for start, signal in placed:
        call[start : start + signal.size] += signal
    return call + np.random.default_rng(seed + 1).standard_normal(call.size).astype(np.float32) * 0.002, turns


def test_a_mono_call_with_interruptions_is_cut_where_the_voice_changes(project):
    """Overlapping voices leave no quiet to cut a segment at: the windows' voices find the change
    (``analysis.voice_change_window_s``)."""
    path, _ = project
    call, turns = _interrupted_call(path / "data/raw/wav", seed=0)
    predictor = Predictor(ModelArtifact.load(path / "models/model"))
    errors = {}
    for name, config in (("cut", AnalysisConfig()), ("uncut", AnalysisConfig(voice_change_window_s=0))):
        result = analyze(encode(call), predictor, config)
        hypothesis = [(item["start_s"], item["end_s"], item["speaker"]) for item in result["timeline"]]
        errors[name] = diarisation_error_rate(turns, hypothesis)
    # measured (26 utterances, 13 overlaps): 0.153 with the cut at voice changes, 0.298 without
    assert errors["cut"] <= 0.2 and errors["uncut"] - errors["cut"] >= 0.08, errors


def caller_uploads(wav_dir: Path) -> dict[str, list[tuple[bytes, str]]]:
    """What callers upload, made of test-speaker recordings, with their emotion codes: two recordings of one speaker
    and emotion (sorted ids, in pairs) 0.4-1.4 s apart (a customer who says two sentences), and every third
    recording with 1.5 s before and after it and white noise at -40 dBFS throughout (a phone held before and after
    speaking); all with faint line noise."""
    rng = np.random.default_rng(3)
    paths = sorted(wav_dir.glob("0[38]*.wav"))
    groups: dict[str, list[str]] = {}
    for path in paths:
        groups.setdefault(path.stem[:2] + path.stem[5], []).append(path.stem)
    kinds: dict[str, list[tuple[bytes, str]]] = {"two sentences": [], "noise around one": []}
    for ids in groups.values():
        for first, second in zip(ids[0::2], ids[1::2], strict=False):
            pause = np.zeros(round(rng.uniform(0.4, 1.4) * 16000), np.float32)
            parts = [sf.read(wav_dir / f"{i}.wav", dtype="float32")[0] for i in (first, second)]
            signal = np.concatenate([parts[0], pause, parts[1]])
            signal += rng.standard_normal(signal.size).astype(np.float32) * 0.002
            kinds["two sentences"].append((encode(signal), first[5]))
    for path in paths[::3]:
        pad = np.zeros(24_000, np.float32)
        signal = np.concatenate([pad, sf.read(path, dtype="float32")[0], pad])
        signal += rng.standard_normal(signal.size).astype(np.float32) * 0.01
        kinds["noise around one"].append((encode(signal), path.stem[5]))
    return kinds


def test_what_callers_upload_is_classified_by_its_utterances(project):
    """A whole upload of two sentences, or of one with noise around it, is far from any training recording (issue
    #14: robustness to what callers send); split into its utterances, each classified from its window (the default
    of `/pred` and `ser predict`), it is classified right."""
    path, _ = project
    predictor = Predictor(ModelArtifact.load(path / "models/model"))
    speech = AnalysisConfig.from_params_file(path / "params.yaml")
    floors = {
        "two sentences": 0.86,
        "noise around one": 0.76,
    }  # measured (session 32): 0.92 and 0.81 (whole 0.46, 0.25)
    for kind, uploads in caller_uploads(path / "data/raw/wav").items():
        right = {"whole": 0, "split": 0}
        for data, code in uploads:
            right["whole"] += predictor.predict_audio(data)["class"]["code"] == code
            right["split"] += predictor.predict_audio(data, speech=speech)["class"]["code"] == code
        assert right["split"] >= floors[kind] * len(uploads) and right["split"] > right["whole"], (kind, right)


# Floors just under the measured 03 + 08 accuracies (README "Call audio"). The figures themselves must come back
# bit for bit (test_the_committed_figures_come_back_bit_for_bit); the floors keep a regression visible in a branch
# whose own dvc.lock changed them.
CONDITION_FLOORS = {  # measured with the default params in session 43 (+ the `phrased` training copies)
    "clean": 0.88,  # 0.916 (session 42's model: 0.907)
    "ulaw_8k": 0.87,  # 0.907 (0.879)
    "alaw_8k": 0.87,  # 0.907 (0.879)
    "gsm_8k": 0.83,  # 0.869 (0.860)
    "opus_12k_nb": 0.86,  # 0.897 (0.888)
    "mp3_16k_8k": 0.83,  # 0.869 (0.879)
    "amr_nb_8k": 0.87,  # 0.907 (0.879)
    "white_10db": 0.81,  # 0.850 (0.850)
    "babble_10db": 0.77,  # 0.804 (0.841)
    "quiet_30db": 0.88,  # 0.916 (0.907)
    "speakerphone_8k": 0.74,  # 0.776 (0.738; a hands-free caller, the weakest condition)
    "level_drop_12db": 0.85,  # 0.888 (0.888; the caller turns away in mid-utterance)
    "first_55pct": 0.77,  # 0.804 (0.607: part of a sentence)
    "two_utterances": 0.91,  # 0.944 (0.486: two sentences of one emotion in one segment)
}


def test_the_committed_figures_come_back_bit_for_bit(project):
    """A fresh `dvc repro` reproduces the repository's metrics exactly, on this machine or another x86-64 one with
    AVX2 (README "The same bits on another machine"): the test-speaker metrics and per-condition figures, and the CV
    rows of the candidates the test runs. (Session 42 found an Intel Xeon training other MLP weights than the AMD
    EPYC that wrote dvc.lock; only a floor noticed, as 03 + 08's babble accuracy fell 0.860 -> 0.804.)"""
    path, _ = project
    for report in ("reports/metrics.json", "reports/conditions.json"):
        assert json.loads((path / report).read_text()) == json.loads((ROOT / report).read_text()), report
    ran = pd.read_csv(path / "reports/cv/results.csv").set_index("candidate").drop(columns="fit_seconds")
    committed = pd.read_csv(ROOT / "reports/cv/results.csv").set_index("candidate").loc[ran.index, ran.columns]
    pd.testing.assert_frame_equal(ran, committed, check_exact=True)  # (fit seconds are the clock's, not the model's)


def test_every_channel_condition_is_evaluated_and_guarded(project):
    path, env = project
    report = json.loads((path / "reports/conditions.json").read_text())
    scores = report["conditions"]
    assert set(scores) == set(CONDITION_FLOORS)
    for condition, floor in CONDITION_FLOORS.items():
        assert scores[condition]["accuracy"] >= floor, (condition, scores[condition])
    # Issue #14's level target: 30 dB quieter within 1 point of 0 dB (measured: identical).
    assert abs(scores["quiet_30db"]["accuracy"] - scores["clean"]["accuracy"]) <= 0.01
    shown = run(["dvc", "metrics", "show", "--json"], path, env)
    assert shown.returncode == 0
    for condition in scores:
        assert f'"{condition}"' in shown.stdout
    summary = json.loads((path / "reports/cv/summary.json").read_text())
    assert summary["score_conditions"][0] == "clean" and len(summary["score_conditions"]) == len(scores) + 4


def test_exp_run_with_hidden_trains_a_different_mlp(project):
    """The design card's command, with the default params: a different MLP whose metrics `dvc metrics diff` shows."""
    path, env = project
    before = json.loads((path / "models/model/metadata.json").read_text())
    result = run(["dvc", "exp", "run", "-S", "model.hidden=100"], path, env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert ran_stages(result.stdout) == ["train", "evaluate"]
    metadata = json.loads((path / "models/model/metadata.json").read_text())
    assert metadata["spec"]["family"] == "mlp" and metadata["spec"]["hidden"] == 100
    assert metadata["model_version"] != before["model_version"]
    diff = run(["dvc", "metrics", "diff", "--json"], path, env)
    assert diff.returncode == 0 and "accuracy" in diff.stdout
