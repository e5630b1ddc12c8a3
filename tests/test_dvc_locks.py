"""DVC's stage-lock table after a killed run: an unreadable one is removed, anything else is left to DVC."""

import json

import pytest
from dvc.fs import localfs
from dvc.rwlock import RWLockFileCorruptedError, _edit_rwlock

from serve.dvc_locks import RWLOCK_FILE, discard_unreadable_rwlock

pytestmark = pytest.mark.unit


def edit_as_dvc_does(project_dir):
    """What every `dvc repro` does first: read the table, then write it back."""
    with _edit_rwlock(str(project_dir / RWLOCK_FILE.parent), localfs, False):
        pass


@pytest.mark.parametrize("left", ["", '{"read": {}, "wr', "\udcff"])
def test_an_unreadable_table_is_removed_and_dvc_can_edit_it_again(tmp_path, left):
    path = tmp_path / RWLOCK_FILE
    path.parent.mkdir(parents=True)
    path.write_text(left, encoding="utf-8", errors="surrogateescape")
    with pytest.raises((RWLockFileCorruptedError, UnicodeDecodeError)):
        edit_as_dvc_does(tmp_path)
    assert discard_unreadable_rwlock(tmp_path)
    edit_as_dvc_does(tmp_path)
    assert json.loads(path.read_text()) == {"read": {}, "write": {}}


def test_a_readable_table_is_left_as_it_is(tmp_path):
    path = tmp_path / RWLOCK_FILE
    path.parent.mkdir(parents=True)
    table = '{"read": {}, "write": {"data/raw": {"pid": 999999, "cmd": "dvc repro"}}}'
    path.write_text(table)
    assert not discard_unreadable_rwlock(tmp_path)
    assert path.read_text() == table


def test_no_table_is_nothing_to_do(tmp_path):
    assert not discard_unreadable_rwlock(tmp_path)
    assert not (tmp_path / RWLOCK_FILE).exists()
