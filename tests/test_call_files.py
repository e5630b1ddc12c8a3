"""Which files a batch analyses: folders are searched for every container the decoder reads, and what is skipped
there is said."""

import logging

import pytest

from ser.errors import DataMissing
from ser.inference.call_files import expand_inputs

pytestmark = pytest.mark.unit


def test_a_folder_yields_every_recording_format_and_warns_about_the_rest(tmp_path, caplog):
    recordings = ["a.wav", "b.3gp", "c.mp4", "d.webm", "sub/e.WMA", "sub/f.amr", "g.m4a", "h.aif"]
    others = ["notes.pdf", "sub/index", "i.wav.part"]
    for name in [*recordings, *others, ".hidden.wav"]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="ser.inference.call_files"):
        found = expand_inputs([str(tmp_path)])
    assert found == sorted((tmp_path / name).resolve() for name in recordings)
    assert "3 files skipped, not audio by their suffix" in caplog.text
    assert ".pdf" in caplog.text and ".part" in caplog.text and "(none)" in caplog.text


def test_a_list_file_is_read_relative_to_itself_and_a_missing_name_is_an_error(tmp_path):
    (tmp_path / "calls").mkdir()
    (tmp_path / "calls" / "x.mp3").write_bytes(b"")
    listing = tmp_path / "batch.txt"
    listing.write_text("# today\ncalls/x.mp3\n\ncalls/x.mp3\n")
    assert expand_inputs([str(listing)]) == [(tmp_path / "calls" / "x.mp3").resolve()]
    with pytest.raises(DataMissing, match="no such file or folder"):
        expand_inputs([str(tmp_path / "nothing.wav")])
