"""The call summary: the customer's satisfaction, its trend over the call, the worst moment, talk time, confidence."""

import pytest

from ser.data import emodb
from ser.inference.diarisation import diarisation_error_rate
from ser.inference.summary import CONFIDENT_TALK_S, call_summary, satisfaction

pytestmark = pytest.mark.unit

WEIGHTS = {"happiness": 1.0, "neutral": 0.2, "anger": -1.0}


def item(start, end, role, emotion, p=0.9):
    probabilities = dict.fromkeys(emodb.EMOTIONS.values(), (1 - p) / 6)
    probabilities[emotion] = p
    return {
        "start_s": start,
        "end_s": end,
        "role": role,
        "speaker": 0,
        "emotion": emotion,
        "probabilities": probabilities,
        "satisfaction": round(satisfaction(probabilities, WEIGHTS), 4),
    }


def test_the_call_is_judged_by_the_customer_and_its_trend_and_worst_moment_are_found():
    timeline = [
        item(0, 5, "agent", "happiness"),
        item(6, 16, "customer", "anger"),
        item(40, 50, "agent", "anger"),  # the agent's tone is not the customer's satisfaction
        item(80, 90, "customer", "happiness"),
    ]
    summary = call_summary(timeline, duration_s=90)
    customer, agent = summary["roles"]["customer"], summary["roles"]["agent"]
    assert summary["satisfaction"] == customer["satisfaction"] == pytest.approx(0.0, abs=0.05)
    assert customer["satisfaction_first_third"] < 0 < customer["satisfaction_last_third"]
    assert summary["trend"] == customer["trend"] > 1.5
    assert summary["strongest_negative"] == {"start_s": 6, "end_s": 16, "emotion": "anger", "satisfaction": -0.88}
    assert summary["talk_time_s"] == {"customer": 20, "agent": 15}
    assert customer["emotion_shares"]["anger"] == 0.5 and agent["dominant_emotion"] == "anger"
    assert summary["confidence"] == pytest.approx(0.9 * 20 / CONFIDENT_TALK_S)


def test_a_silent_customer_gives_no_satisfaction_and_no_confidence():
    summary = call_summary([item(0, 5, "agent", "neutral")], duration_s=10)
    assert summary["satisfaction"] is None and summary["confidence"] == 0.0 and summary["roles"]["customer"] is None
    assert call_summary([], 10)["roles"] == {"customer": None, "agent": None}


def test_diarisation_error_rate_counts_missed_false_and_confused_speech():
    reference = [(0.0, 10.0, 0), (10.0, 20.0, 1)]
    assert diarisation_error_rate(reference, [(0.0, 10.0, 5), (10.0, 20.0, 7)]) == 0.0  # labels are arbitrary
    swapped_half = diarisation_error_rate(reference, [(0.0, 20.0, 0)], collar_s=0.0)
    assert swapped_half == pytest.approx(0.5, abs=0.01)
    missed = diarisation_error_rate(reference, [(0.0, 10.0, 0)], collar_s=0.0)
    assert missed == pytest.approx(0.5, abs=0.01)
    false_alarm = diarisation_error_rate([(0.0, 10.0, 0)], [(0.0, 15.0, 0)], collar_s=0.0)
    assert false_alarm == pytest.approx(0.5, abs=0.01)
    assert diarisation_error_rate(reference, [(0.2, 10.2, 0), (10.2, 20.0, 1)]) == 0.0  # within the collar


def test_diarisation_error_rate_where_two_voices_overlap():
    reference = [(0.0, 10.0, 0), (6.0, 16.0, 1)]  # 4 s of both: 20 s of reference speech
    assert diarisation_error_rate(reference, [(0.0, 10.0, 3), (6.0, 16.0, 4)], collar_s=0.0) == 0.0
    one_voice_at_a_time = diarisation_error_rate(reference, [(0.0, 10.0, 3), (10.0, 16.0, 4)], collar_s=0.0)
    assert one_voice_at_a_time == pytest.approx(4 / 20, abs=0.01)  # the second voice missed where it overlaps
    one_voice_for_both = diarisation_error_rate(reference, [(0.0, 16.0, 3)], collar_s=0.0)
    assert one_voice_for_both == pytest.approx(10 / 20, abs=0.01)  # 6 s confused, 4 s missed
    both_throughout = diarisation_error_rate(reference, [(0.0, 16.0, 3), (0.0, 16.0, 4)], collar_s=0.0)
    assert both_throughout == pytest.approx(12 / 20, abs=0.01)  # a voice too many for 6 s at each end
