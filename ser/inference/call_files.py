"""Which audio files a batch names: paths, glob patterns, folders and list files (no audio or model code, so the
command line can tell one call from a batch before it loads either)."""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path

from ser.errors import DataMissing

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".aac", ".amr", ".gsm", ".au", ".aiff", ".caf"}
LIST_SUFFIXES = {".txt", ".lst", ".list"}


def expand_inputs(items: Iterable[str]) -> list[Path]:
    """Audio files named by paths, glob patterns, folders (searched recursively) or list files (one path per line,
    relative to the list), de-duplicated in order. A name that matches nothing raises ``DataMissing``."""
    found: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        elif path.is_file() and path.suffix.lower() in LIST_SUFFIXES:
            lines = [line.strip() for line in path.read_text().splitlines()]
            found += [(path.parent / line) for line in lines if line and not line.startswith("#")]
        elif path.is_file():
            found.append(path)
        elif any(char in item for char in "*?["):
            matches = sorted(Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file())
            if not matches:
                raise DataMissing(f"no file matches {item}")
            found += matches
        else:
            raise DataMissing(f"no such file or folder: {item}")
    return list(dict.fromkeys(p.resolve() for p in found))
