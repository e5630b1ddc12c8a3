import numpy as np
import pytest

from ser.models.cv import CLEAN, ConditionedData, loso_scores
from ser.models.speaker_norm import loso_summary, standardise_per_speaker
from ser.models.training import choose_spec

pytestmark = pytest.mark.unit


def _speaker_shifted(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Six speakers whose voices differ (a large per-speaker offset) far more than their emotions do."""
    rng = np.random.default_rng(seed)
    y = np.tile(np.arange(7), 6 * 3)
    speakers = np.repeat([f"{s:02d}" for s in range(6)], 21)
    offsets = 6.0 * rng.standard_normal((6, 12))
    x = rng.standard_normal((len(y), 12)) + 1.5 * np.eye(12)[y] + offsets[np.repeat(np.arange(6), 21)]
    return x.astype(np.float32), y, speakers


def test_each_speaker_gets_zero_mean_unit_variance_and_constant_columns_become_zero():
    x, _, speakers = _speaker_shifted()
    x[:, 3] = 5.0
    z = standardise_per_speaker(x, speakers, min_recordings=10)
    for speaker in np.unique(speakers):
        block = z[speakers == speaker].astype(np.float64)
        assert np.allclose(block.mean(axis=0), 0, atol=1e-5)
        assert np.allclose(np.delete(block.std(axis=0), 3), 1, atol=1e-4)
    assert np.all(z[:, 3] == 0)


def test_a_speakers_result_depends_on_its_own_recordings_only():
    x, _, speakers = _speaker_shifted()
    some = np.isin(speakers, ["01", "04"])
    alone = standardise_per_speaker(x[some], speakers[some], min_recordings=10)
    assert np.array_equal(alone, standardise_per_speaker(x, speakers, min_recordings=10)[some])


def test_too_few_recordings_of_a_speaker_or_mismatched_lengths_are_refused():
    x, _, speakers = _speaker_shifted()
    with pytest.raises(ValueError, match=r"speaker 00 has 21 recordings; .* at least 22"):
        standardise_per_speaker(x, speakers, min_recordings=22)
    with pytest.raises(ValueError, match="126 feature rows but 125 speaker ids"):
        standardise_per_speaker(x, speakers[1:], min_recordings=10)


def test_normalisation_removes_speaker_offsets_that_defeat_the_utterance_model():
    x, y, speakers = _speaker_shifted()
    spec = choose_spec({"family": "logreg", "C": 1.0, "seed": 0}, {})
    raw = loso_scores({"lr": {"family": "logreg", "C": 1.0}}, ConditionedData({CLEAN: x}, y, speakers), seed=0)
    summary = loso_summary(spec, standardise_per_speaker(x, speakers, min_recordings=10), y, speakers, n_jobs=1)
    assert summary["speakers"] == ["00", "01", "02", "03", "04", "05"]
    assert summary["uar_mean"] > raw.loc[0, "uar_mean"] + 0.2, (summary["uar_mean"], raw.loc[0, "uar_mean"])
    assert summary["spec"] == spec
