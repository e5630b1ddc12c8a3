"""The speech detector's gate: after a long quiet it stops, forgets its state, and wakes on the next loud chunk."""

import numpy as np
import pytest

from ser.inference.vad import CHUNK, CHUNK_S, DetectorGate, GatedVoiceActivity, VoiceActivity, _chunk_energy_db
from tests.speech import SENTENCES, needs_espeak, say

pytestmark = [pytest.mark.unit, needs_espeak]

FLOOR_DB = -60.0  # the line noise below


def _stream(*pieces: tuple[str, float]) -> np.ndarray:
    """Line noise (-60 dBFS) with speech: each piece is (what is said, seconds of quiet before it)."""
    rng = np.random.default_rng(0)
    parts = []
    for index, (text, quiet_s) in enumerate(pieces):
        parts += [np.zeros(int(quiet_s * 16_000), np.float32), say(text, ("de", "de+f3")[index % 2])]
    parts.append(np.zeros(16_000, np.float32))
    signal = np.concatenate(parts)
    signal += rng.standard_normal(len(signal)).astype(np.float32) * 10 ** (FLOOR_DB / 20)
    return signal[: len(signal) // CHUNK * CHUNK]


def _gated(signal: np.ndarray, gate: DetectorGate, block_chunks: int) -> np.ndarray:
    detector = GatedVoiceActivity(FLOOR_DB, gate)
    chunks = signal.reshape(-1, CHUNK)
    for first in range(0, len(chunks), block_chunks):
        block = chunks[first : first + block_chunks]
        detector.feed(block, _chunk_energy_db(block.reshape(-1), len(block)))
    return detector.probabilities()


def _plain(signal: np.ndarray) -> np.ndarray:
    detector = VoiceActivity()
    detector.feed(signal)
    return detector.probabilities()


def test_a_gate_that_never_resets_hears_what_the_plain_detector_hears():
    signal = _stream((SENTENCES[0], 1.0), (SENTENCES[1], 6.0))
    np.testing.assert_array_equal(_gated(signal, DetectorGate(reset_s=0.0), 50), _plain(signal))


def test_after_a_long_quiet_the_detector_starts_afresh_just_before_the_speech():
    gate = DetectorGate(reset_s=2.0, lead_s=0.5, margin_db=6.0)
    signal = _stream((SENTENCES[0], 1.0), (SENTENCES[1], 8.0))
    gated = _gated(signal, gate, 64)
    assert len(gated) == len(signal) // CHUNK
    loud = np.flatnonzero(_chunk_energy_db(signal, len(signal) // CHUNK) >= FLOOR_DB + gate.margin_db)
    second = loud[np.argmax(np.diff(loud) > 4 / CHUNK_S) + 1]  # the first loud chunk of the second sentence
    woken = second - round(gate.lead_s / CHUNK_S)
    # unheard: from `reset_s` after the first sentence until the lead of the second
    assert np.all(gated[woken - 100 : woken] == 0)
    # then as a detector that starts there, with nothing heard before
    np.testing.assert_allclose(gated[woken:], _plain(signal[woken * CHUNK :]), atol=1e-6)
    # and the plain detector, which heard the whole quiet, is another state: its answers differ there
    assert not np.allclose(_plain(signal)[woken:], gated[woken:], atol=1e-3)


def test_the_gate_gives_the_same_answers_whatever_the_blocks():
    gate = DetectorGate(reset_s=1.0, lead_s=0.5, margin_db=6.0)
    signal = _stream((SENTENCES[2], 0.3), (SENTENCES[3], 3.0), (SENTENCES[4], 0.8))
    whole = _gated(signal, gate, 10**6)
    for block_chunks in (1, 7, 100):
        np.testing.assert_array_equal(_gated(signal, gate, block_chunks), whole)


def test_pauses_shorter_than_the_reset_leave_the_detector_listening():
    gate = DetectorGate(reset_s=2.0, lead_s=0.5, margin_db=6.0)
    signal = _stream((SENTENCES[2], 0.2), (SENTENCES[3], 1.2), (SENTENCES[5], 1.5))
    np.testing.assert_array_equal(_gated(signal, gate, 64), _plain(signal))


def test_a_channel_muted_to_exact_zeros_still_has_a_noise_floor_to_wake_above():
    import io

    import soundfile as sf

    from ser.inference.vad import stream_levels
    from tests.speech import wav_bytes

    speech = _stream((SENTENCES[0], 0.5), (SENTENCES[1], 1.0))
    muted = np.concatenate([speech, np.zeros(len(speech) * 3, np.float32)])  # 75 % digital silence
    with sf.SoundFile(io.BytesIO(wav_bytes(muted, subtype="FLOAT"))) as audio:
        (level,) = stream_levels(audio, per_channel=False)
    assert FLOOR_DB - 3 < level.floor_db < FLOOR_DB + 3  # the line noise, not -inf
    assert level.active_db > level.floor_db + 20
