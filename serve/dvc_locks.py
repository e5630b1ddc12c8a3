"""DVC's run-time stage-lock table, made safe for the `dvc repro` that follows one which was killed."""

from __future__ import annotations

import json
from pathlib import Path

from dvc.lock import make_lock

RWLOCK_FILE = Path(".dvc/tmp/rwlock")


def discard_unreadable_rwlock(project_dir: Path) -> bool:
    """Remove DVC's stage-lock table if a killed DVC left it half written; True if it did.

    DVC rewrites `.dvc/tmp/rwlock` in place, so a process killed between truncating and writing it leaves a file that
    every later DVC command refuses ("JSON structure is corrupted"). A missing table means that no stage is locked,
    and entries of dead processes are DVC's own to clear, so only an unreadable table is removed, and under DVC's own
    guard of it, so that a DVC process writing it now is never cut short.
    """
    path = project_dir / RWLOCK_FILE
    if not path.is_file():
        return False
    with make_lock(f"{path}.lock", tmp_dir=str(path.parent)):
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):  # JSONDecodeError is a ValueError
            path.unlink()
            return True
    return False
