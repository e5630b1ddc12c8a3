"""A recording's DC offset: measured on the line's quiet chunks, taken out only where it stands out from the noise,
never from exact zeros; the levels the detector sets see the recording without it."""

import io

import numpy as np
import pytest
import soundfile as sf

from ser.inference import vad
from ser.inference.dc_offset import channel_offsets, dc_offset, without_dc, without_offsets

pytestmark = pytest.mark.unit

SR = 16_000
CHUNK = 512


def lopsided_speech_over_line_noise(seconds: float = 20.0, seed: int = 0) -> np.ndarray:
    """Bursts of a lopsided waveform (its mean sits off zero, as a recorded voice's often does: the median sample of
    EmoDB's recordings is up to 575 steps of 16 bits off zero) between pauses, over line noise at -54 dBFS."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    voice = 0.3 * np.sin(2 * np.pi * 150 * t) + 0.15 * np.cos(2 * np.pi * 300 * t) + 0.1
    on = (np.floor(t / 1.5) % 2) == 0  # 1.5 s on, 1.5 s off
    return (np.where(on, voice, 0.0) + rng.standard_normal(t.size) * 0.002).astype(np.float32)


def test_a_recording_without_an_offset_is_left_exactly_as_it_is():
    signal = lopsided_speech_over_line_noise()
    assert np.mean(signal[:SR]) > 0.05  # the voice is lopsided, the line is not
    assert dc_offset(signal, CHUNK) == 0.0
    assert without_dc(signal, SR) is signal


def test_an_offset_is_measured_on_the_quiet_chunks_and_taken_out():
    signal = lopsided_speech_over_line_noise()
    for offset in (0.003, 0.05, -0.2):
        measured = dc_offset(signal + np.float32(offset), CHUNK)
        assert abs(measured - offset) < 2e-4, (offset, measured)


def test_an_offset_lost_in_the_line_noise_is_not_taken_out():
    signal = lopsided_speech_over_line_noise()
    assert dc_offset(signal + np.float32(2e-4), CHUNK) == 0.0  # 20 dB under the line noise: it lifts nothing


def test_exact_zeros_stay_zeros_and_silence_has_no_offset():
    sound = lopsided_speech_over_line_noise(6.0) + np.float32(0.05)
    muted = np.concatenate([sound, np.zeros(3 * SR, np.float32), sound])
    cleaned = without_dc(muted, SR)
    assert np.all(cleaned[sound.size : sound.size + 3 * SR] == 0.0)
    assert abs(float(np.mean(cleaned[int(1.6 * SR) : int(2.9 * SR)]))) < 1e-3  # a pause: the line around zero
    assert dc_offset(np.zeros(SR, np.float32), CHUNK) == 0.0
    assert dc_offset(np.zeros(100, np.float32), CHUNK) == 0.0  # shorter than a chunk


def test_each_channel_has_its_own_offset():
    left = lopsided_speech_over_line_noise(seed=1)
    right = lopsided_speech_over_line_noise(seed=2)
    offsets = channel_offsets(np.stack([left + np.float32(0.1), right], axis=1), CHUNK)
    assert abs(offsets[0] - 0.1) < 2e-4 and offsets[1] == 0.0
    data = np.stack([left, right], axis=1)
    assert without_offsets(data, np.zeros(2, np.float32)) is data


def test_the_detector_sets_the_same_noise_floor_with_an_offset_as_without():
    """An offset of 0.1 would be the floor of every pause: 20 dB over this line's noise."""
    signal = lopsided_speech_over_line_noise()
    levels = []
    for offset in (0.0, 0.1):
        buffer = io.BytesIO()
        sf.write(buffer, signal + np.float32(offset), SR, format="WAV", subtype="FLOAT")
        with vad.open_sound_file(buffer.getvalue()) as audio:
            (level,) = vad.stream_levels(audio, per_channel=False)
        levels.append(level)
    assert abs(levels[0].floor_db - levels[1].floor_db) < 0.5, levels
    assert abs(levels[0].active_db - levels[1].active_db) < 0.5, levels


def test_a_codecs_idle_pattern_is_silence_not_an_offset():
    """A-law has no code for zero: its silence decodes to +8 steps of 16 bits. Chunks of one constant value say
    nothing about an offset, so a call whose pauses are A-law silence (VoIP silence suppression) is read as it is."""
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(SR, np.float32), SR, format="WAV", subtype="ALAW")
    idle = sf.read(io.BytesIO(buffer.getvalue()), dtype="float32")[0]
    assert np.all(idle == idle[0]) and idle[0] > 0
    speech = lopsided_speech_over_line_noise(6.0)
    suppressed = np.where(np.abs(speech) < 0.004, idle[0], speech).astype(np.float32)
    assert dc_offset(suppressed, CHUNK) == 0.0
    assert abs(dc_offset(suppressed + np.float32(0.05), CHUNK) - 0.05) < 5e-3  # an offset beside it is still found
