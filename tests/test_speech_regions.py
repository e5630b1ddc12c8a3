"""Speech regions from the VAD's chunk probabilities: hysteresis, gaps, and edges refined by the chunks' energy."""

import numpy as np
import pytest

from ser.errors import ParamsError
from ser.inference.analysis_config import AnalysisConfig
from ser.inference.vad import CHUNK_S, SpeechRules, _long_silences, _noise_floor_db, speech_regions

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
    energy[_chunks(4.0) : _chunks(4.3)] = -30.0  # and the first one's soft tail runs on to 4.3 s
    first, second = speech_regions(probabilities, RULES, energy)
    assert first[1] == pytest.approx(4.6 - RULES.min_gap_s, abs=CHUNK_S)
    assert second[0] == pytest.approx(4.6, abs=CHUNK_S)
    assert second[0] - first[1] >= RULES.min_gap_s - 1e-9


def test_an_edge_moves_out_over_soft_speech_not_over_line_noise_that_gain_control_lifted():
    """After the first utterance a handset's gain control lifts the line noise by 12 dB over a second; the second
    utterance starts softly (-35 dB) 0.2 s before the model hears it. Its edge moves back over the soft speech only,
    though the lifted noise stands more than ``edge_margin_db`` over the stream's floor."""
    probabilities, energy = _call(late_onset_s=0.0)
    seconds = np.arange(len(energy)) * CHUNK_S
    pause = (seconds >= 4.0) & (seconds < 6.0)
    energy[pause] = -60.0 + np.minimum(12.0, 12.0 * (seconds[pause] - 4.0))
    energy[_chunks(5.8) : _chunks(6.0)] = -35.0
    second = speech_regions(probabilities, RULES, energy)[1]
    assert second[0] == pytest.approx(5.8, abs=CHUNK_S)
    steady = np.where(pause & (energy < -40.0), -60.0, energy)  # without the lifted noise: the same onset
    assert speech_regions(probabilities, RULES, steady)[1][0] == pytest.approx(5.8, abs=CHUNK_S)


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


def test_over_a_speechlike_background_a_region_goes_on_over_softer_speech_but_cannot_start_there():
    """``background_release_db``: energy hysteresis, as ``release`` is for the probability. A caller's soft tail 6 dB
    over the babble is kept once the region has started; as soft a voice alone never starts one."""
    probabilities, energy = _babble_call(0.8)
    for start, end in ((4.0, 4.5), (8.0, 8.8)):  # the first utterance's soft tail, and a voice behind the caller
        energy[_chunks(start) : _chunks(end)] = -34.0
        probabilities[_chunks(start) : _chunks(end)] = 0.95
    margin = SpeechRules(**{**RULES.__dict__, "background_margin_db": 10.0})
    released = SpeechRules(**{**margin.__dict__, "background_release_db": 4.0})

    def rounded(regions: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(round(s, 1), round(e, 1)) for s, e in regions]

    assert rounded(speech_regions(probabilities, margin, energy)) == [(2.0, 4.0), (5.0, 7.0)]
    assert rounded(speech_regions(probabilities, released, energy)) == [(2.0, 4.5), (5.0, 7.0)]
    unreleased = SpeechRules(**{**margin.__dict__, "background_release_db": 10.0})
    assert speech_regions(probabilities, unreleased, energy) == speech_regions(probabilities, margin, energy)


def test_over_a_background_the_model_hears_as_noise_the_rule_changes_nothing():
    rules = SpeechRules(**{**RULES.__dict__, "background_margin_db": 10.0})
    probabilities, energy = _babble_call(0.05)
    probabilities[_chunks(2.9) : _chunks(3.1)] = 0.5  # the soft stretch: above the release, below the floor's margin
    assert speech_regions(probabilities, rules, energy) == speech_regions(probabilities, RULES, energy)
    assert len(speech_regions(probabilities, rules, energy)) == 2


def _background_voice_call(background_db: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """10 s over a background of the given chunk energies, which the model hears as noise (probability 0.1) but for
    one background voice it is sure of (8.0-8.8 s), and two utterances (2-4 s, 5-7 s) at -25 dB."""
    probabilities, energy = np.full(len(background_db), 0.1, np.float32), background_db.copy()
    for start, end in ((2.0, 4.0), (5.0, 7.0)):
        energy[_chunks(start) : _chunks(end)] = -25.0
        probabilities[_chunks(start) : _chunks(end)] = 0.95
    probabilities[_chunks(8.0) : _chunks(8.8)] = 0.9
    return probabilities, energy


def test_a_background_that_rises_and_falls_like_voices_gets_the_rule_steady_jittery_noise_does_not():
    rules = SpeechRules(**{**RULES.__dict__, "background_margin_db": 10.0})
    rng = np.random.default_rng(0)
    n = _chunks(10.0)
    # babble: levels held for 4 chunks (syllables), with deep dips when the talkers pause
    voices = np.repeat(-40.0 + 8.0 * np.log10(rng.uniform(0.001, 1.0, n // 4 + 1)), 4)[:n]
    babble = _background_voice_call(voices)
    assert len(speech_regions(babble[0], RULES, babble[1])) == 3  # without the rule the background voice is a region
    regions = speech_regions(babble[0], rules, babble[1])
    assert [(round(s, 1), round(e, 1)) for s, e in regions] == [(2.0, 4.0), (5.0, 7.0)]
    # low-frequency rumble: every 32 ms chunk jitters by 3 dB, but 96 ms together are steady
    rumble = _background_voice_call(-40.0 + 3.0 * rng.standard_normal(n))
    assert np.percentile(rumble[1], 10) - np.percentile(rumble[1], 1) > 2.7  # chunk by chunk it would look like babble
    assert speech_regions(rumble[0], rules, rumble[1]) == speech_regions(rumble[0], RULES, rumble[1])
    assert len(speech_regions(rumble[0], rules, rumble[1])) == 3


def test_steady_noise_that_gain_control_raises_in_the_pauses_is_no_speechlike_background():
    """A handset's automatic gain control lifts the line noise by up to 12 dB over the 0.75 s after each utterance and
    drops it when speech returns: the floor spreads like babble over the whole stream, but not within a second."""
    rules = SpeechRules(**{**RULES.__dict__, "background_margin_db": 10.0})
    rng = np.random.default_rng(1)
    seconds = np.arange(_chunks(10.0)) * CHUNK_S
    since_speech = np.minimum.reduce([np.where(seconds >= end, seconds - end, np.inf) for end in (0.0, 4.0, 7.0)])
    pumped = -52.0 + np.minimum(12.0, 16.0 * since_speech) + 0.2 * rng.standard_normal(len(seconds))
    probabilities, energy = _background_voice_call(pumped)
    assert np.percentile(energy, 10) - np.percentile(energy, 1) > 2.7  # over the whole stream it looks like babble
    assert speech_regions(probabilities, rules, energy) == speech_regions(probabilities, RULES, energy)
    assert len(speech_regions(probabilities, rules, energy)) == 3


def test_a_region_far_under_the_streams_speech_level_is_background_not_the_caller():
    probabilities, energy = _call(late_onset_s=0.0)  # two utterances at -25 dB over line noise at -60 dB
    for start, level in ((0.2, -55.0), (8.6, -43.0)):  # a faint voice 30 dB under the speech, a soft one 18 dB under
        energy[_chunks(start) : _chunks(start + 1.0)] = level
        probabilities[_chunks(start) : _chunks(start + 1.0)] = 0.95
    assert len(speech_regions(probabilities, RULES, energy)) == 4
    rules = SpeechRules(**{**RULES.__dict__, "quiet_region_db": 25.0})
    kept = [round(start) for start, _ in speech_regions(probabilities, rules, energy)]
    assert kept == [2, 6, 9]  # the faint voice at 0.2 s dropped; the soft words at 8.6 s kept
    assert len(speech_regions(probabilities, RULES, None)) == 4  # without energies nothing is dropped


def test_the_background_release_is_checked_against_the_margin():
    assert AnalysisConfig(background_release_db=None).speech_rules.background_release_db is None
    for bad in (-1.0, 12.0):
        with pytest.raises(ParamsError, match="background_release_db"):
            AnalysisConfig(background_margin_db=10.0, background_release_db=bad)


def _dipping_utterance(pause_db: float) -> tuple[np.ndarray, np.ndarray]:
    """10 s of line noise (-60 dB) with one utterance from 2 s to 5 s whose probability dips under the release for
    0.5 s in its middle (3.2-3.7 s), where the energy is ``pause_db``."""
    n = _chunks(10.0)
    probabilities, energy = np.zeros(n, np.float32), np.full(n, -60.0)
    energy[_chunks(2.0) : _chunks(5.0)] = -25.0
    probabilities[_chunks(2.0) : _chunks(5.0)] = 0.95
    probabilities[_chunks(3.2) : _chunks(3.7)] = 0.1
    energy[_chunks(3.2) : _chunks(3.7)] = pause_db
    return probabilities, energy


def test_a_dip_of_the_model_where_the_speaker_does_not_fall_quiet_is_no_pause():
    """``pause_margin_db``: the probability dips for longer than ``min_gap_s`` over a breath or a doubted vowel (the
    energy 25 dB over the floor): one region with the rule, two without. A pause at the floor still splits."""
    rules = SpeechRules(**{**RULES.__dict__, "pause_margin_db": 10.0})
    probabilities, energy = _dipping_utterance(-35.0)
    assert len(speech_regions(probabilities, RULES, energy)) == 2
    (start, end), *others = speech_regions(probabilities, rules, energy)
    assert not others and (start, end) == (pytest.approx(2.0, abs=CHUNK_S), pytest.approx(5.0, abs=CHUNK_S))
    assert len(speech_regions(probabilities, rules, None)) == 2  # without energies the rule cannot tell
    quiet = _dipping_utterance(-55.0)  # the speaker stops: 0.5 s within 10 dB of the floor
    assert len(speech_regions(quiet[0], rules, quiet[1])) == 2


def test_a_pause_needs_min_gap_s_of_quiet_in_a_row_and_unknown_energy_counts_as_quiet():
    rules = SpeechRules(**{**RULES.__dict__, "pause_margin_db": 10.0})
    probabilities, energy = _dipping_utterance(-35.0)
    energy[_chunks(3.3) : _chunks(3.5)] = -58.0  # 0.2 s of quiet: less than min_gap_s (0.35 s)
    assert len(speech_regions(probabilities, rules, energy)) == 1
    energy[_chunks(3.25) : _chunks(3.65)] = np.nan  # the other channel's voice leaking in (crosstalk): unknown
    assert len(speech_regions(probabilities, rules, energy)) == 2


def test_the_quiet_the_model_still_hears_as_speech_counts_for_the_pause():
    """The model lingers over speech that has stopped (0.15 s here) and reacts late to what follows (0.3 s): a pause
    of 0.45 s of quiet of which only 0.3 s lies between the two regions is still a pause (before, hold music right
    after an utterance joined it)."""
    rules = SpeechRules(**{**RULES.__dict__, "pause_margin_db": 10.0, "edge_extension_s": 0.0})
    n = _chunks(10.0)
    probabilities, energy = np.zeros(n, np.float32), np.full(n, -60.0)
    energy[_chunks(2.0) : _chunks(4.0)] = -25.0
    energy[_chunks(4.45) : _chunks(7.0)] = -20.0  # music right after the pause
    probabilities[_chunks(2.0) : _chunks(4.15)] = 0.95  # lingering 0.15 s into the quiet
    probabilities[_chunks(4.75) : _chunks(7.0)] = 0.95  # late (sure of the music, to keep the test about the pause)
    assert len(speech_regions(probabilities, rules, energy)) == 2
    energy[_chunks(4.1) : _chunks(4.25)] = -30.0  # the quiet broken up: no 0.35 s in a row any more
    assert len(speech_regions(probabilities, rules, energy)) == 1


@pytest.mark.parametrize("click_chunks", [1, 2])
def test_on_a_line_that_crackles_a_click_in_a_pause_does_not_end_it_a_longer_sound_does(click_chunks):
    """An analogue line's crackle or bit errors: loud runs of at most 64 ms break the quiet of every pause (at three
    clicks a second, calls found 73-79 % of the utterances, neighbours merged). On a line with ten or more a minute
    they do not end a pause; on a quiet line a lone smack in a pause still does, as before."""
    rules = SpeechRules(**{**RULES.__dict__, "pause_margin_db": 10.0})
    probabilities, energy = _dipping_utterance(-55.0)  # a pause at the floor: two regions
    assert len(speech_regions(probabilities, rules, energy)) == 2
    energy[_chunks(3.4) : _chunks(3.4) + click_chunks] = -20.0
    assert len(speech_regions(probabilities, rules, energy)) == 1  # a lone blip: no crackle, the pause is broken
    crackling = energy.copy()
    for at in [*np.arange(0.3, 1.9, 0.4), *np.arange(5.3, 9.9, 0.4)]:  # 16 clicks in the line's noise
        crackling[_chunks(at) : _chunks(at) + click_chunks] = -20.0
    assert len(speech_regions(probabilities, rules, crackling)) == 2
    crackling[_chunks(3.4) : _chunks(3.4) + 3] = -20.0  # 96 ms: a sound, and no 0.35 s of quiet in a row is left
    assert len(speech_regions(probabilities, rules, crackling)) == 1


def test_the_pause_margin_is_checked():
    assert AnalysisConfig(pause_margin_db=0.0).speech_rules.pause_margin_db == 0.0
    with pytest.raises(ParamsError, match="pause_margin_db"):
        AnalysisConfig(pause_margin_db=-1.0)


def test_a_joined_region_the_confidence_rules_drop_gives_back_its_pieces():
    """Two stretches the model is sure of (0.6 s each) 3 s apart, loud between them (hold music under a voice, or a
    doubted reverberant stretch). Joined, the region is sure of less than ``min_confident_share`` of itself and is
    dropped; the regions its pieces make without the rule come back instead, so joining never loses speech."""
    n = _chunks(10.0)
    probabilities, energy = np.zeros(n, np.float32), np.full(n, -60.0)
    energy[_chunks(2.0) : _chunks(6.2)] = -25.0
    probabilities[_chunks(2.0) : _chunks(2.6)] = 0.95
    probabilities[_chunks(5.6) : _chunks(6.2)] = 0.95
    rules = SpeechRules(**{**RULES.__dict__, "min_confident_share": 0.3, "edge_extension_s": 0.0})
    joined = SpeechRules(**{**rules.__dict__, "pause_margin_db": 10.0})
    pieces = speech_regions(probabilities, rules, energy)
    assert len(pieces) == 2
    assert speech_regions(probabilities, joined, energy) == pieces
    for start in (3.0, 3.6, 4.2, 4.8):  # sure of 0.2 s in every 0.6 s between: joined, the region is kept whole
        probabilities[_chunks(start) : _chunks(start + 0.2)] = 0.95
    assert speech_regions(probabilities, rules, energy) == pieces  # without the rule: the same two pieces
    (start, end), *others = speech_regions(probabilities, joined, energy)
    assert not others and (start, end) == (pytest.approx(2.0, abs=CHUNK_S), pytest.approx(6.2, abs=CHUNK_S))


def test_a_long_run_of_digital_silence_is_not_the_floor_short_ones_are():
    """A recorder's zeros before a call connects (a minute) are left out of the floor, so the call's line noise
    (-60 dB) is the floor again and a sentence's pause over it splits; VoIP silence suppression's zeros in every
    pause (runs shorter than ``LONG_SILENCE_S``) are the floor, so speech's soft edges stay above it."""
    probabilities, energy = _call()
    silence = np.full(_chunks(60.0), -120.0)
    lead = np.concatenate([silence, energy])
    assert _noise_floor_db(energy) == -60.0 and _noise_floor_db(lead) == -60.0
    assert _long_silences(lead).sum() == len(silence) and not _long_silences(energy).any()
    late = speech_regions(np.concatenate([np.zeros(len(silence), np.float32), probabilities]), RULES, lead)
    assert [(round(a - 60.0, 3), round(b - 60.0, 3)) for a, b in late] == [
        (round(a, 3), round(b, 3)) for a, b in speech_regions(probabilities, RULES, energy)
    ]
    suppressed = np.where(energy < -50.0, -120.0, energy)  # zeros wherever the voice is quiet: runs of 2 s
    assert _noise_floor_db(suppressed) == -120.0
    assert _noise_floor_db(np.full(10, -120.0)) == -120.0  # nothing but digital silence


def test_a_long_run_of_a_codecs_idle_pattern_is_digital_silence_too():
    """A-law's silence decodes to +8 steps of 16 bits (-72 dB): a minute of it is left out of the floor as exact
    zeros are; chunks that merely sit at one level for a moment are not."""
    _, energy = _call()
    idle = np.full(_chunks(60.0), -72.25)
    assert _long_silences(np.concatenate([idle, energy])).sum() == len(idle)
    assert _noise_floor_db(np.concatenate([idle, energy])) == -60.0
    assert not _long_silences(np.concatenate([np.full(_chunks(5.0), -72.25), energy])).any()  # under 10 s
