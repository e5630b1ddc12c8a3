import pandas as pd
import pytest

from ser.data.split import SplitError, assert_speaker_disjoint, manifest, speaker_split
from tests.synthetic import synthetic_ids, write_wav_dir

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    wav_dir = tmp_path_factory.mktemp("wav")
    write_wav_dir(wav_dir, synthetic_ids(140))
    return manifest(wav_dir)


def test_manifest_has_one_row_per_wav_with_labels(table):
    assert len(table) == 140
    assert list(table.columns) == ["id", "speaker", "sex", "text", "emotion_code", "emotion", "label"]
    row = table.set_index("id").loc["03a01Fa"]
    assert (row.speaker, row.sex, row.emotion, row.label) == ("03", "m", "happiness", 5)


def test_split_is_speaker_disjoint_and_complete(table):
    train, test = speaker_split(table, ["03", "08"])
    assert set(test["speaker"]) == {"03", "08"}
    assert not set(train["speaker"]) & set(test["speaker"])
    assert len(train) + len(test) == len(table)


def test_unknown_test_speaker_is_rejected(table):
    with pytest.raises(SplitError, match="unknown test speakers"):
        speaker_split(table, ["03", "99"])


def test_too_few_training_speakers_is_rejected(table):
    with pytest.raises(SplitError, match="at least two training speakers"):
        speaker_split(table, [s for s in set(table["speaker"]) if s != "03"])


def test_leak_is_detected():
    train = pd.DataFrame({"id": ["03a01Fa"], "speaker": ["03"]})
    test = pd.DataFrame({"id": ["03a02Fa"], "speaker": ["03"]})
    with pytest.raises(SplitError, match="both train and test"):
        assert_speaker_disjoint(train, test)
