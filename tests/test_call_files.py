"""Which files a batch analyses: folders are searched for every container the decoder reads, and what is skipped
there is said."""

import logging
import os
from pathlib import Path

import pytest

from ser.errors import DataMissing
from ser.inference.call_files import CallListError, expand_inputs, expand_leg_pairs

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


def test_broken_links_and_pipes_are_reported_in_a_folder_and_refused_by_name(tmp_path, caplog):
    (tmp_path / "a.wav").write_bytes(b"")
    (tmp_path / "gone.wav").symlink_to(tmp_path / "deleted.wav")
    os.mkfifo(tmp_path / "pipe.wav")
    with caplog.at_level(logging.WARNING, logger="ser.inference.call_files"):
        assert expand_inputs([str(tmp_path)]) == [(tmp_path / "a.wav").resolve()]
    assert "2 entries skipped, not files (broken links, pipes or devices): gone.wav, pipe.wav" in caplog.text
    with pytest.raises(DataMissing, match=r"broken link: .*gone\.wav points to .*deleted\.wav, which does not exist"):
        expand_inputs([str(tmp_path / "gone.wav")])
    with pytest.raises(DataMissing, match=r"not a regular file: .*pipe\.wav"):
        expand_inputs([str(tmp_path / "pipe.wav")])


def test_a_list_file_is_read_relative_to_itself_and_a_missing_name_is_an_error(tmp_path):
    (tmp_path / "calls").mkdir()
    (tmp_path / "calls" / "x.mp3").write_bytes(b"")
    listing = tmp_path / "batch.txt"
    listing.write_text("# today\ncalls/x.mp3\n\ncalls/x.mp3\n")
    assert expand_inputs([str(listing)]) == [(tmp_path / "calls" / "x.mp3").resolve()]
    with pytest.raises(DataMissing, match="no such file or folder"):
        expand_inputs([str(tmp_path / "nothing.wav")])


def test_a_list_of_calls_in_two_files_names_each_call_by_its_customer_and_agent_legs(tmp_path):
    listing = tmp_path / "legs" / "pairs.csv"
    listing.parent.mkdir()
    listing.write_text("customer,agent\n# monday\nin/1.wav, out/1.wav\n\nin/2.wav\tout/2.wav\nin/1.wav,out/1.wav\n")
    folder = listing.parent
    assert expand_leg_pairs([str(listing)]) == [
        ((folder / "in/1.wav").resolve(), (folder / "out/1.wav").resolve()),
        ((folder / "in/2.wav").resolve(), (folder / "out/2.wav").resolve()),
    ]
    assert expand_leg_pairs(["c.wav", "a.wav"]) == [(Path("c.wav").resolve(), Path("a.wav").resolve())]
    listing.write_text("in/1.wav,out/1.wav\nin/3.wav\n")
    with pytest.raises(CallListError, match=r"pairs\.csv, line 2: expected the customer.s file, then the agent.s"):
        expand_leg_pairs([str(listing)])
    with pytest.raises(DataMissing, match="no such list of call legs"):
        expand_leg_pairs([str(tmp_path / "none.csv")])
    (tmp_path / "call.wav").write_bytes(b"")
    with pytest.raises(CallListError, match="a batch of calls in two files is a list of them"):
        expand_leg_pairs([str(tmp_path / "call.wav")])
