import zipfile
from pathlib import Path

import pytest

from ser.data import download
from ser.data.download import DatasetError
from tests.project_copy import ROOT, run, venv_env
from tests.synthetic import make_archive, synthetic_ids

pytestmark = pytest.mark.unit


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir()) if parent.exists() else []


def test_valid_archive_extracts_into_place(synthetic_zip, tmp_path):
    out = tmp_path / "data" / "raw"
    download.extract(synthetic_zip, out)
    assert len(list((out / "wav").glob("*.wav"))) == 535
    assert (out / "erkennung.txt").is_file()
    assert leftovers(out.parent) == ["raw"]


def test_truncated_archive_fails_and_leaves_nothing(synthetic_zip, tmp_path):
    broken = tmp_path / "broken.zip"
    broken.write_bytes(synthetic_zip.read_bytes()[: synthetic_zip.stat().st_size // 2])
    out = tmp_path / "data" / "raw"
    with pytest.raises(DatasetError, match="corrupt"):
        download.extract(broken, out)
    assert leftovers(out.parent) == []


def test_incomplete_archive_fails_with_count(tmp_path):
    archive = make_archive(tmp_path / "short.zip", ids=synthetic_ids(534))
    out = tmp_path / "data" / "raw"
    with pytest.raises(DatasetError, match="expected 535 wav files, found 534"):
        download.extract(archive, out)
    assert leftovers(out.parent) == []


def test_wrong_archive_fails(tmp_path):
    archive = tmp_path / "other.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("readme.txt", "not emodb")
    with pytest.raises(DatasetError, match="no wav/ directory"):
        download.extract(archive, tmp_path / "raw")


def test_not_a_zip_fails(tmp_path):
    archive = tmp_path / "download.zip"
    archive.write_bytes(b"<html>404 not found</html>")
    with pytest.raises(DatasetError, match="not a zip"):
        download.extract(archive, tmp_path / "raw")


def test_unsafe_member_path_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("wav/../../escape.txt", "x")
    with pytest.raises(DatasetError, match="unsafe path"):
        download.extract(archive, tmp_path / "raw")
    assert not (tmp_path.parent / "escape.txt").exists()


def test_override_env_replaces_url():
    assert download.resolve_source("http://x/y.zip", {"SER_EMODB_SOURCE": "/a/b.zip"}) == "/a/b.zip"
    assert download.resolve_source("http://x/y.zip", {}) == "http://x/y.zip"


def test_missing_local_source_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="archive not found"):
        download.fetch(str(tmp_path / "nope.zip"), tmp_path / "out.zip")


def test_download_stage_reports_one_line_error_and_writes_nothing(tmp_path):
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"garbage")
    result = run(["python", str(ROOT / "stages" / "download.py")], tmp_path, venv_env(SER_EMODB_SOURCE=str(bad)))
    assert result.returncode == 1
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "not a zip" in error_lines[0]
    assert "Traceback" not in result.stderr
    assert leftovers(tmp_path / "data") == []
