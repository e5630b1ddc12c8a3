import pytest

from ser.data import emodb

pytestmark = pytest.mark.unit


def test_parse_id_reads_speaker_text_emotion_and_take():
    u = emodb.parse_id("03a01Fa")
    assert (u.speaker, u.sex, u.text, u.emotion_code, u.take) == ("03", "m", "a01", "F", "a")
    assert u.emotion == "happiness"


@pytest.mark.parametrize("bad", ["", "03a01F", "03a01Xa", "../etc/passwd", "03a01Fa.wav", "3a01Fa", None, 42])
def test_malformed_id_is_rejected(bad):
    assert not emodb.is_valid_id(bad)
    with pytest.raises(ValueError):
        emodb.parse_id(bad)


def test_unknown_speaker_is_rejected():
    assert emodb.is_valid_id("99a01Fa")
    with pytest.raises(ValueError, match="unknown EmoDB speaker"):
        emodb.parse_id("99a01Fa")


def test_neutral_is_label_zero_and_labels_cover_seven_emotions():
    assert emodb.class_info(0) == {"code": "N", "emotion": "neutral", "label": 0}
    assert sorted(emodb.LABELS.values()) == list(range(7))
