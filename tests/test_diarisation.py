"""The speaker space (within-speaker whitening) and the clustering of segments into the call's two voices."""

import numpy as np
import pytest

from ser.inference.diarisation import assign_speakers, project
from ser.models.voice_space import within_speaker_whitening

pytestmark = pytest.mark.unit


def voices(rng, n=40, emotion_spread=3.0):
    """Two speakers' embeddings whose largest variation (an 'emotion' axis shared by both) is not the speaker."""
    speaker_axis, emotion_axis = np.eye(8)[0], np.eye(8)[1]
    emotion = rng.normal(0, emotion_spread, (2 * n, 1)) * emotion_axis
    who = np.r_[np.zeros(n), np.ones(n)]
    points = (who[:, None] - 0.5) * speaker_axis + emotion + rng.normal(0, 0.1, (2 * n, 8)) + 4 * np.eye(8)[2]
    return points.astype(np.float32), who


def test_whitening_removes_the_within_speaker_variation():
    rng = np.random.default_rng(0)
    points, who = voices(rng)
    transform = within_speaker_whitening(points, [str(int(w)) for w in who], regularisation=0.0)
    centred = np.vstack([points[who == k] - points[who == k].mean(axis=0) for k in (0, 1)]) @ transform
    assert np.allclose(np.cov(centred.T), np.eye(8), atol=1e-3)


def test_voices_are_clustered_by_speaker_in_the_speaker_space_and_the_first_is_speaker_0():
    rng = np.random.default_rng(1)
    points, who = voices(rng)
    order = rng.permutation(len(who))
    points, who = points[order], who[order]
    transform = within_speaker_whitening(*voices(np.random.default_rng(2)), regularisation=0.1)  # other speakers
    labels = np.array(assign_speakers(points, np.ones(len(who)), transform))
    assert labels[0] == 0 and np.array_equal(labels == 0, who == who[0])
    raw = np.array(assign_speakers(points, np.ones(len(who)), None))
    assert not np.array_equal(raw == 0, who == who[0]), "without the space the 'emotion' axis wins"
    assert np.allclose(np.linalg.norm(project(points, transform), axis=1), 1.0, atol=1e-5)
    assert assign_speakers(points[:1], np.ones(1), transform) == [0]
