"""Speech regions from the VAD's chunk probabilities: hysteresis, gaps, and edges refined by the chunks' energy."""

import numpy as np
import pytest

from ser.inference.vad import CHUNK_S, SpeechRules, speech_regions

pytestmark = pytest.mark.unit

RULES = SpeechRules(
    threshold=0.7,
    release=0.35,
    min_gap_s=0.35,
    min_confident_s=0.5,
    padding_s=0.0,
    edge_extension_s=0.5,
    edge_margin_db=10.0,
)


def _chunks(seconds: float) -> int:
    return round(seconds / CHUNK_S)


def _call(late_onset_s: float = 0.4) -> tuple[np.ndarray, np.ndarray]:
    """10 s of line noise (-60 dB) with an utterance loud from 2 s to 4 s whose probability rises only
    ``late_onset_s`` after it starts, and a second one from 6 s to 8 s that the model hears at once."""
    n = _chunks(10.0)
    probabilities, energy = np.zeros(n, np.float32), np.full(n, -60.0)
    energy[_chunks(2.0) : _chunks(4.0)] = -25.0
    probabilities[_chunks(2.0 + late_onset_s) : _chunks(4.0)] = 0.95
    energy[_chunks(6.0) : _chunks(8.0)] = -25.0
    probabilities[_chunks(6.0) : _chunks(8.0)] = 0.95
    return probabilities, energy


def test_a_late_onset_is_moved_back_to_where_the_speech_energy_starts():
    probabilities, energy = _call()
    without = speech_regions(probabilities, RULES)
    with_energy = speech_regions(probabilities, RULES, energy)
    assert without[0][0] == pytest.approx(2.4, abs=CHUNK_S)
    assert with_energy[0][0] == pytest.approx(2.0, abs=CHUNK_S)
    assert with_energy[1] == pytest.approx(without[1], abs=CHUNK_S)  # heard at once: nothing to move


def test_edges_move_at_most_the_extension_and_never_into_quiet_or_unknown_chunks():
    probabilities, energy = _call(late_onset_s=1.0)
    (start, _), _ = speech_regions(probabilities, RULES, energy)
    assert start == pytest.approx(3.0 - RULES.edge_extension_s, abs=CHUNK_S)
    energy[_chunks(2.0) : _chunks(2.9)] = np.nan  # e.g. the other channel's voice leaking in (crosstalk)
    (start, _), _ = speech_regions(probabilities, RULES, energy)
    assert start == pytest.approx(2.9, abs=CHUNK_S)
    off = speech_regions(probabilities, SpeechRules(**{**RULES.__dict__, "edge_extension_s": 0.0}), energy)
    assert off[0][0] == pytest.approx(3.0, abs=CHUNK_S)


def test_an_extended_edge_keeps_the_minimum_gap_to_its_neighbour():
    probabilities, energy = _call()
    probabilities[_chunks(4.6) : _chunks(8.0)] = 0.95  # the second utterance 0.6 s after the first
    energy[_chunks(4.0) : _chunks(4.6)] = -30.0  # and loud between them (e.g. babble)
    first, second = speech_regions(probabilities, RULES, energy)
    assert first[1] == pytest.approx(4.6 - RULES.min_gap_s, abs=CHUNK_S)
    assert second[0] == pytest.approx(4.6, abs=CHUNK_S)
    assert second[0] - first[1] >= RULES.min_gap_s - 1e-9


def test_spikes_of_music_stay_below_the_confidence_rule_even_when_loud():
    n = _chunks(10.0)
    probabilities, energy = np.zeros(n, np.float32), np.full(n, -20.0)
    probabilities[::20] = 0.9  # a chunk in twenty spikes, as hold music makes the model do
    assert speech_regions(probabilities, RULES, energy) == []


def test_a_loud_stretch_the_model_is_seldom_sure_of_is_dropped_by_the_confident_share():
    n = _chunks(10.0)
    probabilities, energy = np.zeros(n, np.float32), np.full(n, -60.0)
    energy[_chunks(2.0) : _chunks(5.0)] = -20.0  # e.g. a bar of hold music: loud throughout ...
    probabilities[_chunks(2.5) : _chunks(3.1)] = 0.9  # ... the model sure of 0.6 s of it ...
    probabilities[_chunks(3.1) : _chunks(4.5)] = 0.5  # ... and unsure (above the release level) of the rest
    lenient = SpeechRules(**{**RULES.__dict__, "min_confident_share": 0.0})
    strict = SpeechRules(**{**RULES.__dict__, "min_confident_share": 0.3})
    assert len(speech_regions(probabilities, lenient, energy)) == 1
    assert speech_regions(probabilities, strict, energy) == []
    probabilities, energy = _call()  # speech: the model stays sure once it has reacted
    assert len(speech_regions(probabilities, strict, energy)) == 2


def test_channels_that_carry_one_signal_are_told_from_two_voices():
    from ser.inference.vad import shared_signal_db
    from tests.speech import wav_bytes

    def as_wav(channels: np.ndarray) -> bytes:
        return wav_bytes(channels, 8000, "FLOAT")

    rng = np.random.default_rng(0)
    voice, other = rng.standard_normal((2, 8000 * 20)).astype(np.float32) * 0.1
    assert shared_signal_db(as_wav(np.stack([voice, voice], 1))) < -80  # dual mono
    assert shared_signal_db(as_wav(np.stack([voice, -0.3 * voice + 0.2], 1))) < -80  # gain, polarity, DC
    leaky_copy = np.stack([voice, 0.5 * voice + 0.03 * other], 1)  # a lossy codec's small differences: -24 dB
    assert -30 < shared_signal_db(as_wav(leaky_copy)) < -20
    crosstalk = np.stack([voice + 0.1 * other, other + 0.1 * voice], 1)  # two voices leaking into each other, -20 dB
    assert shared_signal_db(as_wav(crosstalk)) > -1
    assert shared_signal_db(as_wav(np.stack([voice, np.zeros_like(voice)], 1))) == 0.0  # one silent channel
    assert shared_signal_db(as_wav(voice)) == 0.0  # mono
    long_voice, long_other = rng.standard_normal((2, 8000 * 120)).astype(np.float32) * 0.1  # > windows read
    assert shared_signal_db(as_wav(np.stack([long_voice, long_voice], 1))) < -80
    assert shared_signal_db(as_wav(np.stack([long_voice, long_other], 1))) > -1


def _babble_call(background_probability: float) -> tuple[np.ndarray, np.ndarray]:
    """10 s of a background at -40 dB that the model hears with ``background_probability``, and two utterances
    (2-4 s and 5-7 s) 15 dB over it with a soft stretch (-38 dB) in the middle of the first."""
    n = _chunks(10.0)
    probabilities, energy = np.full(n, background_probability, np.float32), np.full(n, -40.0)
    for start, end in ((2.0, 4.0), (5.0, 7.0)):
        energy[_chunks(start) : _chunks(end)] = -25.0
        probabilities[_chunks(start) : _chunks(end)] = 0.95
    energy[_chunks(2.9) : _chunks(3.1)] = -38.0
    return probabilities, energy


def test_over_a_background_the_model_hears_as_speech_only_what_stands_above_it_counts():
    rules = SpeechRules(**{**RULES.__dict__, "background_margin_db": 10.0})
    babble = _babble_call(0.8)
    assert len(speech_regions(babble[0], RULES, babble[1])) == 1  # without the rule: one region over everything
    regions = speech_regions(babble[0], rules, babble[1])
    assert [(round(s, 1), round(e, 1)) for s, e in regions] == [(2.0, 4.0), (5.0, 7.0)]


def test_over_a_background_the_model_hears_as_noise_the_rule_changes_nothing():
    rules = SpeechRules(**{**RULES.__dict__, "background_margin_db": 10.0})
    probabilities, energy = _babble_call(0.05)
    probabilities[_chunks(2.9) : _chunks(3.1)] = 0.5  # the soft stretch: above the release, below the floor's margin
    assert speech_regions(probabilities, rules, energy) == speech_regions(probabilities, RULES, energy)
    assert len(speech_regions(probabilities, rules, energy)) == 2
