"""Late-reverberation suppression for the speech detector: what it takes away, what it leaves, and its streaming."""

import io

import numpy as np
import pytest
import soundfile as sf

from ser.inference import vad
from ser.inference.dereverb import Dereverb, LateReverbSuppressor

pytestmark = pytest.mark.unit

SR = 16_000


def _streamed(signal: np.ndarray, settings: Dereverb, block: int) -> np.ndarray:
    suppressor = LateReverbSuppressor(settings)
    parts = [
        suppressor.process(signal[start : start + block], last=start + block >= len(signal))
        for start in range(0, len(signal), block)
    ]
    return np.concatenate(parts)


def _db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


def _reverberant_burst(rt60_s: float = 0.5) -> tuple[np.ndarray, int, int]:
    """0.3 s of noise (a syllable's worth of sound) in a room: its tail decays by 60 dB in ``rt60_s``."""
    rng = np.random.default_rng(0)
    dry = np.zeros(SR * 2, np.float32)
    onset, offset = SR // 2, SR // 2 + int(0.3 * SR)
    dry[onset:offset] = rng.standard_normal(offset - onset) * 0.1
    t = np.arange(int(rt60_s * SR)) / SR
    response = rng.standard_normal(len(t)) * np.exp(-3 * np.log(10) * t / rt60_s) * 0.05
    response[0] = 1.0  # the direct sound
    return np.convolve(dry, response)[: len(dry)].astype(np.float32), onset, offset


def test_with_no_room_to_undo_the_stream_comes_out_as_it_went_in_whatever_the_blocks():
    signal = np.random.default_rng(1).standard_normal(SR * 3).astype(np.float32) * 0.1
    for block in (1000, 4096, len(signal)):
        out = _streamed(signal, Dereverb(rt60_s=1e-4), block)
        assert len(out) == len(signal)
        np.testing.assert_allclose(out, signal, atol=1e-5)


def test_the_output_is_the_same_whatever_the_blocks():
    signal, _, _ = _reverberant_burst()
    whole = _streamed(signal, Dereverb(rt60_s=0.5), len(signal))
    for block in (333, 512, 7000):
        np.testing.assert_array_equal(_streamed(signal, Dereverb(rt60_s=0.5), block), whole)


def test_the_tail_is_suppressed_and_the_sound_itself_kept():
    signal, onset, offset = _reverberant_burst()
    out = _streamed(signal, Dereverb(rt60_s=0.5), 4096)
    tail = slice(offset + int(0.1 * SR), offset + int(0.4 * SR))
    assert _db(out[tail]) < _db(signal[tail]) - 3  # 3.5 dB measured: per-bin estimates of a random tail
    start = slice(onset, onset + int(0.1 * SR))
    assert abs(_db(out[start]) - _db(signal[start])) < 2


def test_steady_noise_loses_little():
    noise = np.random.default_rng(2).standard_normal(SR * 3).astype(np.float32) * 0.01
    out = _streamed(noise, Dereverb(rt60_s=0.5), 4096)
    assert abs(_db(out[SR:]) - _db(noise[SR:])) < 2


def test_the_detector_hears_the_suppressed_stream_while_the_energies_stay_the_recordings():
    signal, _, _ = _reverberant_burst()
    data = io.BytesIO()
    sf.write(data, np.tile(signal, 3), SR, subtype="FLOAT", format="WAV")
    plain = vad.stream_activity(data.getvalue(), False, 1.0)
    heard = vad.stream_activity(data.getvalue(), False, 1.0, dereverb=Dereverb(rt60_s=0.5))
    np.testing.assert_array_equal(plain[1][0], heard[1][0])
    assert len(plain[0][0]) == len(heard[0][0])
    assert not np.allclose(plain[0][0], heard[0][0], atol=1e-4)


def test_a_dry_stream_reaches_the_detector_as_it_is():
    """Only a stream whose sound falls as slowly as a room makes it (under ``below_db_per_s``) is dereverberated."""
    rng = np.random.default_rng(3)
    dry = np.zeros(SR * 6, np.float32)
    for start in range(SR // 2, len(dry) - SR, SR):  # a 0.3 s burst every second, stopping dead
        dry[start : start + int(0.3 * SR)] = rng.standard_normal(int(0.3 * SR)) * 0.1
    dry += rng.standard_normal(len(dry)).astype(np.float32) * 1e-4
    reverberant, _, _ = _reverberant_burst()
    for signal, expect_changed in ((dry, False), (np.tile(reverberant, 3), True)):
        data = io.BytesIO()
        sf.write(data, signal, SR, subtype="FLOAT", format="WAV")
        with sf.SoundFile(io.BytesIO(data.getvalue())) as audio:
            (level,) = vad.stream_levels(audio, per_channel=False)
        assert level.decay_db_per_s is not None and (level.decay_db_per_s < 280) == expect_changed
        plain = vad.stream_activity(data.getvalue(), False, 1.0)[0][0]
        heard = vad.stream_activity(data.getvalue(), False, 1.0, dereverb=Dereverb(rt60_s=0.5))[0][0]
        assert np.array_equal(plain, heard) != expect_changed
