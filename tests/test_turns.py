"""Where a diarised call's segments are cut for a change of voice (``ser.inference.turns``)."""

import numpy as np
import pytest

from ser.errors import ParamsError
from ser.inference.analysis_config import AnalysisConfig
from ser.inference.turns import TurnSplit, pieces

pytestmark = pytest.mark.unit

SR = 16_000
SPLIT = TurnSplit(gap_s=0.1, min_piece_s=1.0, quiet_db=25.0)


def voiced(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * rng.uniform(100, 220) * t) * (1 + 0.3 * rng.standard_normal(t.size))).astype(
        np.float32
    )


def joined(*parts: np.ndarray, noise: float = 1e-3) -> np.ndarray:
    signal = np.concatenate(parts)
    return signal + np.random.default_rng(9).standard_normal(signal.size).astype(np.float32) * noise


def gap(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR), np.float32)


def test_a_quiet_gap_cuts_in_its_middle_and_the_pieces_cover_the_segment():
    signal = joined(voiced(1.5, 0), gap(0.2), voiced(2.0, 1))
    ranges = pieces(signal, SR, SPLIT)
    assert len(ranges) == 2 and ranges[0][0] == 0 and ranges[-1][1] == signal.size
    assert ranges[0][1] == ranges[1][0] and abs(ranges[0][1] / SR - 1.6) < 0.03


def test_short_gaps_short_pieces_and_gaps_at_the_edges_do_not_cut():
    assert len(pieces(joined(voiced(1.5, 0), gap(0.05), voiced(2.0, 1)), SR, SPLIT)) == 1  # a breath
    assert len(pieces(joined(voiced(0.6, 0), gap(0.3), voiced(2.0, 1)), SR, SPLIT)) == 1  # "ja": too short alone
    assert len(pieces(joined(gap(0.5), voiced(2.5, 0), gap(0.5)), SR, SPLIT)) == 1  # the window's context
    assert len(pieces(voiced(0.5, 0), SR, SPLIT)) == 1 and pieces(np.zeros(SR, np.float32), SR, SPLIT) == [(0, SR)]


def test_every_gap_long_enough_cuts_left_to_right_at_any_level():
    signal = joined(voiced(1.2, 0), gap(0.15), voiced(1.2, 1), gap(0.15), voiced(0.5, 2), gap(0.3), voiced(1.5, 3))
    ranges = pieces(signal, SR, SPLIT)
    assert len(ranges) == 3  # the 0.5 s burst stays with the piece before it
    assert pieces(signal * np.float32(0.01), SR, SPLIT) == ranges


def test_a_gap_in_loud_noise_is_not_quiet():
    signal = joined(voiced(1.5, 0), gap(0.2), voiced(2.0, 1), noise=0.03)
    assert len(pieces(signal, SR, SPLIT)) == 1


@pytest.mark.parametrize("changes", [{"turn_gap_s": 0.0}, {"turn_gap_s": 1.5}, {"turn_quiet_db": 0.0}])
def test_bad_turn_settings_are_refused(changes):
    with pytest.raises(ParamsError):
        AnalysisConfig(**changes)
    assert AnalysisConfig(turn_gap_s=None).turn_split is None
    assert AnalysisConfig().turn_split == SPLIT
