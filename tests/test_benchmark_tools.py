"""The benchmarks' own tools: the five-pair benchmark's saved runs merge into one table whose pooled figures come
from the confusion counts; the calls benchmark's calls, hum and clicks; the unseen-conditions codec links, music and
noise suppression; the unseen-texts folds; the short calls' cuts."""

import importlib.util
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from benchmarks import calls, short_calls, speaker_pairs, unseen_conditions, unseen_texts


def _run(pair: str, matrix: list[list[int]]) -> tuple:
    counts = np.array(matrix)
    accuracy = float(np.trace(counts) / counts.sum())
    per_pair = {pair: {"clean": {"accuracy": accuracy}}}
    confusions = {"clean": {pair: counts}}
    hits, support = np.diag(counts).astype(float), counts.sum(axis=1).astype(float)
    return per_pair, confusions, [(pair, accuracy, accuracy, int(counts.sum()))], [(hits, support)]


@pytest.mark.unit
def test_saved_runs_merge_and_pool(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    speaker_pairs._save(first, *_run("03,08", [[3, 1], [0, 4]]))
    speaker_pairs._save(second, *_run("10,14", [[1, 1], [0, 0]]))
    speaker_pairs._report_saved([first, second])
    out = capsys.readouterr().out
    clean_row = next(line for line in out.splitlines() if line.startswith("clean"))
    # pooled counts [[4, 2], [0, 4]]: accuracy 0.8, UAR (4/6 + 4/4) / 2 = 0.833; mean accuracy (0.875 + 0.5) / 2
    assert clean_row.split()[1:] == ["0.875", "0.500", "0.688", "0.800", "0.833"]
    assert "pooled over all pairs: accuracy 0.800, UAR 0.833" in out


@pytest.mark.unit
def test_the_pipelines_own_pair_joins_saved_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--with-reports: the project's last `dvc repro` (its test pair, from reports/) pools with saved runs."""
    root = tmp_path / "project"
    (root / "reports/speaker_norm").mkdir(parents=True)
    (root / "params.yaml").write_text(yaml.safe_dump({"split": {"test_speakers": ["03", "08"]}}))
    (root / "reports/conditions.json").write_text(json.dumps({"conditions": {"clean": {"accuracy": 0.875}}}))
    (root / "reports/conditions_confusion.json").write_text(json.dumps({"confusion": {"clean": [[3, 1], [0, 4]]}}))
    per_class = {name: {"support": 0, "recall": 0.0} for name in speaker_pairs.NAMES}
    per_class["neutral"], per_class["anger"] = {"support": 4, "recall": 0.75}, {"support": 4, "recall": 1.0}
    variant = {"accuracy": 0.875, "uar": 0.875, "n": 8, "per_class": per_class}
    (root / "reports/speaker_norm/metrics.json").write_text(json.dumps(variant))
    saved = tmp_path / "b.json"
    per_pair, confusions, rows, [(hits, support)] = _run("10,14", [[1, 1], [0, 0]])
    seven = [(np.pad(hits, (0, 5)), np.pad(support, (0, 5)))]  # the variant's counts over the 7 emotions
    speaker_pairs._save(saved, per_pair, confusions, rows, seven)
    own = speaker_pairs._pair_from_reports(root)
    assert list(own) == ["03,08"]
    speaker_pairs._report_saved([saved], own)
    out = capsys.readouterr().out
    clean_row = next(line for line in out.splitlines() if line.startswith("clean"))
    assert clean_row.split()[1:] == ["0.875", "0.500", "0.688", "0.800", "0.833"]
    header = next(line for line in out.splitlines() if line.startswith("condition"))
    assert header.split()[1:3] == ["03,08", "10,14"]


@pytest.mark.unit
def test_the_calls_benchmark_says_why_an_utterance_was_not_found() -> None:
    turn, neighbours = (10.0, 12.0, 0, "03a01Fa"), [(12.5, 14.0)]

    def seg(start: float, end: float) -> dict:
        return {"start_s": start, "end_s": end}

    assert calls.miss([seg(10.1, 12.2)], turn, neighbours) is None
    assert calls.miss([], turn, neighbours) == "none"
    assert calls.miss([seg(10.0, 10.8), seg(11.3, 12.0)], turn, neighbours) == "split"
    assert calls.miss([seg(10.0, 14.0)], turn, neighbours) == "merged"
    assert calls.miss([seg(10.5, 12.0)], turn, neighbours) == "late start"
    assert calls.miss([seg(9.6, 12.0)], turn, neighbours) == "early start"
    assert calls.miss([seg(9.9, 11.5)], turn, neighbours) == "early end"
    assert calls.miss([seg(9.9, 12.4)], turn, neighbours) == "late end"


@pytest.mark.unit
def test_the_calls_benchmark_lets_a_caller_interrupt_but_never_overlaps_a_voice_with_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import soundfile as sf

    wav_dir = tmp_path / "data/raw/wav"
    wav_dir.mkdir(parents=True)
    rng = np.random.default_rng(0)
    ids: dict[str, list[str]] = {"03": [], "08": []}
    for speaker in ids:
        for number in range(12):
            name = f"{speaker}a{number:02d}Na"
            sf.write(wav_dir / f"{name}.wav", rng.uniform(-0.5, 0.5, int(rng.uniform(0.6, 1.2) * calls.SR)), calls.SR)
            ids[speaker].append(name)
    monkeypatch.setattr(calls, "ROOT", tmp_path)
    for gap, overlapping in (((0.4, 1.2), False), ((-0.6, -0.1), True)):
        call = calls.build_call(ids, seed=4, answer_gap=gap)  # seed 4: a short reply the guard is needed for
        turns = sorted(call["turns"])
        across = [b[0] < a[1] for a, b in itertools.pairwise(turns) if a[2] != b[2]]
        assert any(across) == overlapping
        for lane in (0, 1):
            own = [turn for turn in turns if turn[2] == lane]
            assert all(b[0] >= a[1] for a, b in itertools.pairwise(own)), lane
            for start, end, _, _ in own:  # each utterance on its own channel
                assert np.abs(call["stereo"][round(start * calls.SR) : round(end * calls.SR), lane]).mean() > 0.1


@pytest.mark.unit
def test_the_calls_benchmark_puts_silence_first_and_its_truth_after_it() -> None:
    stereo = np.ones((calls.SR, 2), np.float32)
    call = {"stereo": stereo, "mono": stereo.sum(axis=1), "turns": [(0.2, 0.8, 1, "03a01Wa")], "other": [(0.0, 0.1)]}
    late = calls.silence_first(call, 2.0)
    assert late["stereo"].shape == (3 * calls.SR, 2) and late["mono"].shape == (3 * calls.SR,)
    assert not late["stereo"][: 2 * calls.SR].any() and late["stereo"][2 * calls.SR :].all()
    assert late["turns"] == [(2.2, 2.8, 1, "03a01Wa")] and late["other"] == [(2.0, 2.1)]


@pytest.mark.unit
def test_the_calls_benchmarks_hum_has_its_level_and_harmonics_and_its_clicks_their_rate() -> None:
    line = calls.hum(10 * calls.SR, 60.0, -30.0, seed=0)
    assert 10 * np.log10(np.mean(np.square(line, dtype=np.float64))) == pytest.approx(-30.0, abs=0.01)
    spectrum = np.abs(np.fft.rfft(line))
    peaks = sorted(np.argsort(spectrum)[-3:] / 10.0)  # 0.1 Hz bins
    assert peaks == [60.0, 180.0, 300.0]
    crackle = calls.clicks(60 * calls.SR, 3.0, 0.1, 0.5, seed=0)
    starts = np.flatnonzero((crackle != 0) & (np.append(0.0, crackle[:-1]) == 0))
    assert 150 <= len(starts) <= 180  # 3 a second, a few overlapping
    assert np.count_nonzero(crackle) < 0.01 * len(crackle)


def _voice(seconds: float = 1.0, sr: int = 16000) -> np.ndarray:
    """A steady vowel-like tone: 150 Hz and its harmonics up to 3 kHz, at about -15 dBFS."""
    t = np.arange(int(seconds * sr)) / sr
    return (sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 21)) * 0.15).astype(np.float32)


def _db(signal: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(signal, dtype=np.float64))))


@pytest.mark.unit
@pytest.mark.parametrize(
    ("encoder", "rate", "bit_rate", "options"), [("sbc", 16000, None, {"msbc": "1"}), ("g723_1", 8000, 6300, None)]
)
def test_the_unseen_conditions_codec_links_keep_the_voice_at_their_rate(
    encoder: str, rate: int, bit_rate: int | None, options: dict | None
) -> None:
    voice = _voice()
    heard, sr = unseen_conditions.coded(encoder, rate, bit_rate, options)(voice, 16000, "03a01Wa")
    assert sr == rate and heard.dtype == np.float32 and heard.size == rate
    assert _db(heard) == pytest.approx(_db(voice), abs=2.0)
    spectrum = np.abs(np.fft.rfft(heard[rate // 4 :]))  # after the codec's start-up delay
    assert np.argmax(spectrum) * rate / (rate - rate // 4) == pytest.approx(150.0, abs=3.0)


@pytest.mark.unit
def test_the_unseen_conditions_music_sits_at_its_snr_under_the_recording() -> None:
    voice = _voice(2.0)
    mixed, sr = unseen_conditions.music(15.0)(voice, 16000, "03a01Wa")
    assert sr == 16000 and mixed.shape == voice.shape
    assert _db(mixed - voice) == pytest.approx(_db(voice) - 15.0, abs=0.05)
    again, _ = unseen_conditions.music(15.0)(voice, 16000, "03a01Wa")
    other, _ = unseen_conditions.music(15.0)(voice, 16000, "08a01Wa")
    assert np.array_equal(again, mixed) and not np.allclose(other, mixed)  # seeded by the recording


@pytest.mark.unit
def test_the_unseen_conditions_noise_suppression_takes_steady_noise_away() -> None:
    if importlib.util.find_spec("pyrnnoise") is None:  # its __init__ needs packages we leave out: not imported
        pytest.skip("pyrnnoise: requirements-dev-nodeps.txt (scripts/project setup --dev) installs it")
    rng = np.random.default_rng(0)
    noise = (rng.standard_normal(3 * 16000) * 0.03).astype(np.float32)
    cleaned, sr = unseen_conditions.suppressed(None)(noise, 16000, "03a01Wa")
    assert sr == 16000 and cleaned.shape == noise.shape
    assert _db(cleaned[16000:]) < _db(noise) - 15.0  # RNNoise needs a moment to learn the noise


EMODB_TEXTS = ["a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10"]


@pytest.mark.unit
def test_unseen_texts_folds_hold_out_the_speaker_and_its_texts() -> None:
    """The texts benchmark: five groups of two texts; 'unseen' trains without the held-out speaker and the group's
    texts, 'seen' on a seeded draw of as many rows from every text, never the held-out speaker."""
    groups = unseen_texts.text_groups(np.array(EMODB_TEXTS * 3))
    assert len(groups) == 5 and all(len(group) == 2 for group in groups)
    assert sorted(itertools.chain.from_iterable(groups)) == EMODB_TEXTS
    rng = np.random.default_rng(0)
    speakers = rng.choice(["09", "10", "11", "12"], size=400)
    texts = rng.choice(EMODB_TEXTS, size=400)
    group = groups[1]
    unseen = unseen_texts.training_rows(speakers, texts, {"10"}, group, "unseen", seed=42)
    seen = unseen_texts.training_rows(speakers, texts, {"10"}, group, "seen", seed=42)
    assert len(unseen) == int(np.sum((speakers != "10") & ~np.isin(texts, group))) == len(seen)
    assert "10" not in set(speakers[unseen]) | set(speakers[seen])
    assert not np.isin(texts[unseen], group).any() and np.isin(texts[seen], group).any()
    assert np.array_equal(seen, unseen_texts.training_rows(speakers, texts, {"10"}, group, "seen", seed=42))
    assert not np.array_equal(seen, unseen_texts.training_rows(speakers, texts, {"10"}, group, "seen", seed=7))
    with pytest.raises(ValueError, match="mode"):
        unseen_texts.training_rows(speakers, texts, {"10"}, group, "all", seed=42)


@pytest.mark.unit
def test_short_calls_are_cut_in_pauses_that_no_utterance_or_filler_spans() -> None:
    turns = [(0.5 + 4.0 * k, 3.5 + 4.0 * k, k % 2, f"u{k}") for k in range(30)]  # 3 s utterances, 1 s pauses
    call = {"turns": turns, "other": [(40.0, 42.5)], "mono": np.zeros(int(121.0 * calls.SR), np.float32)}
    points = short_calls.cut_points(call, 20.0)
    assert points[0] == 0.0 and points[-1] == pytest.approx(121.0)
    spans = [(s, e) for s, e, _, _ in turns] + call["other"]
    assert all(not (s < point < e) for point in points[1:-1] for s, e in spans)  # never inside a span
    assert all(20.0 <= b - a <= 26.0 for a, b in itertools.pairwise(points[:-1]))  # the last piece may run longer
    assert 10.0 <= points[-1] - points[-2] < 40.0
