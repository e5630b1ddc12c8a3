"""Cutting a diarised piece where its windows' voice changes (``ser.inference.voice_changes``)."""

import numpy as np
import pytest

from ser.audio.channels import Condition
from ser.errors import ParamsError
from ser.inference.analysis_config import AnalysisConfig
from ser.inference.voice_changes import VoiceChange, centroids, cuts, runs, window_ranges

pytestmark = pytest.mark.unit

SR = 16_000
VOICES = np.array([[1.0, 0.0], [0.0, 1.0]])  # two voices' centroids
A, B = [0.9, 0.1], [0.1, 0.9]  # a window nearer voice 0, one nearer voice 1


def test_windows_cover_a_piece_every_half_window_and_a_short_piece_has_none():
    change = VoiceChange(window_s=1.0, min_windows=2)
    assert window_ranges(SR * 2 - 1, SR, change) == []
    assert window_ranges(SR * 3, SR, change) == [
        (0, SR),
        (SR // 2, 3 * SR // 2),
        (SR, 2 * SR),
        (3 * SR // 2, 5 * SR // 2),
        (2 * SR, 3 * SR),
    ]


def test_a_change_needs_min_windows_in_a_row_nearer_the_other_voice():
    assert runs(np.array([A, A, B, B, B]), 0, VOICES, 2) == [(0, 0), (2, 1)]
    assert runs(np.array([A, B, A, A, B]), 0, VOICES, 2) == [(0, 0)]  # single windows: no change
    assert runs(np.array([A, A, B, B, A, A]), 0, VOICES, 2) == [(0, 0), (2, 1), (4, 0)]  # and back
    assert runs(np.array([B, B, A, A]), 0, VOICES, 2) == [(0, 1), (2, 0)]  # the other voice first
    assert runs(np.array([B, B, B]), 0, VOICES, 2) == [(0, 1)]  # no change inside: the caller keeps the piece's voice


def test_cuts_fall_between_the_middles_of_the_windows_either_side_of_a_change():
    ranges = [(0, 100), (50, 150), (100, 200), (150, 250)]
    assert cuts(ranges, [(0, 0), (2, 1)]) == [125]  # middles 100 and 150


def test_centroids_are_unit_length_weighted_means_of_each_voice():
    points = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]) / np.array([[1.0], [1.0], [np.sqrt(2)]])
    means = centroids(points, [0, 1, 0], np.array([3.0, 1.0, 1.0]))
    assert np.allclose(np.linalg.norm(means, axis=1), 1.0)
    assert means[0, 0] > means[0, 1] > 0 and np.allclose(means[1], [0.0, 1.0])


def test_the_voice_change_params_are_checked():
    assert AnalysisConfig(voice_change_window_s=0).voice_change is None
    assert AnalysisConfig().voice_change == VoiceChange(1.2, 2)
    for bad in ({"voice_change_window_s": -1.0}, {"voice_change_windows": 0}):
        with pytest.raises(ParamsError):
            AnalysisConfig(**bad)


def test_a_reverberant_piece_is_not_heard_in_windows():
    """In a room the windows' voices flip inside one utterance (hands-free mono calls: 10 more utterances split of
    535), so only a dry piece is looked at for a change of voice."""
    from ser.inference.segments import voice_pieces
    from tests.test_quality import syllables

    dry = syllables(4.0)
    room = Condition("room", [{"reverb": {"rt60_s": 0.5, "direct_ratio": 1}}], 1).apply(dry, SR, "u")[0]
    change = AnalysisConfig().voice_change
    [(_, _, _, dry_windows)] = voice_pieces(dry, SR, None, None, change)
    [(_, _, _, room_windows)] = voice_pieces(room, SR, None, None, change)
    assert len(dry_windows) == len(window_ranges(dry.size, SR, change)) > 0 and len(room_windows) == 0
    [(_, _, _, unasked)] = voice_pieces(dry, SR, None, None, None)
    assert unasked.shape == (0, dry_windows.shape[1])
