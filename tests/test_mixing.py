"""Channels mixed down: a channel in opposite polarity is flipped instead of cancelling the first; every other
recording is mixed exactly as the plain average."""

import numpy as np
import pytest

from ser.audio.mixing import OPPOSED_CORRELATION, mix_down, polarity_of

pytestmark = pytest.mark.unit


def voices(seconds: float = 2.0, sr: int = 16000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    t = np.arange(int(seconds * sr)) / sr
    first = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.01 * rng.normal(size=t.size)
    second = 0.2 * rng.normal(size=t.size)  # another, unrelated sound
    return first.astype(np.float32), second.astype(np.float32)


def test_a_channel_in_opposite_polarity_is_flipped_not_cancelled():
    first, _ = voices()
    stereo = np.stack([first, -0.5 * first + 0.1], axis=1)  # inverted, quieter, with a DC offset
    assert polarity_of(stereo).tolist() == [1.0, -1.0]
    mixed = mix_down(stereo)
    assert np.corrcoef(mixed, first)[0, 1] > 0.99
    assert np.std(mixed) == pytest.approx(0.75 * np.std(first), rel=1e-3)
    assert np.std(stereo.mean(axis=1)) < 0.3 * np.std(first)  # what the plain average had left


@pytest.mark.parametrize("channels", [1, 2, 6])
def test_recordings_without_opposed_channels_mix_as_the_plain_average_bit_for_bit(channels):
    first, second = voices()
    columns = [first, second, 0.5 * first + second, first * 0.9, second - 0.1 * first, first + 0.01][:channels]
    data = np.stack(columns, axis=1)
    assert np.array_equal(mix_down(data), data.mean(axis=1))
    assert mix_down(data).dtype == np.float32


def test_unrelated_and_slightly_opposed_channels_keep_their_sign():
    first, second = voices()
    for weight in (0.0, 0.2):  # correlation 0 and about -0.2 with the first channel
        other = second - weight * first / np.std(first) * np.std(second)
        correlation = np.corrcoef(first, other)[0, 1]
        assert correlation > OPPOSED_CORRELATION
        assert polarity_of(np.stack([first, other], axis=1)).tolist() == [1.0, 1.0]


def test_the_given_signs_are_used_so_that_every_block_of_a_stream_is_mixed_alike():
    first, second = voices()
    block = np.stack([first, second], axis=1)
    assert np.array_equal(mix_down(block, np.array([1.0, -1.0])), (first - second) / 2)


def test_silent_and_empty_channels_are_not_flipped():
    first, _ = voices()
    assert polarity_of(np.stack([first, np.zeros_like(first)], axis=1)).tolist() == [1.0, 1.0]
    assert polarity_of(np.zeros((0, 2), np.float32)).tolist() == [1.0, 1.0]
