"""Which audio files a batch names: paths, glob patterns, folders and list files (no audio or model code, so the
command line can tell one call from a batch before it loads either)."""

from __future__ import annotations

import glob
import logging
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from ser.errors import DataMissing, SerError

log = logging.getLogger(__name__)

# What a folder is searched for: the suffixes of every container the decoder reads (libsndfile's, and FFmpeg's
# ``decoding.FFMPEG_FORMATS``: phone recorders write 3GP/AMR/M4A, meeting and softphone exports MP4, WebM, WMA), and
# the headerless telephone audio of ``decoding.RAW_FORMATS`` (PBXs: raw μ-law, A-law, GSM, 16-bit PCM, VOX, G.72x),
# listed rather than imported, so the command line starts without the decoder (a test checks they agree).
AUDIO_SUFFIXES = {
    ".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".mp4", ".aac", ".3gp", ".3g2", ".amr", ".awb",
    ".webm", ".mka", ".wma", ".gsm", ".au", ".aif", ".aiff", ".aifc", ".caf",
    ".w64", ".ul", ".ulaw", ".ulw", ".mulaw", ".mu", ".al", ".alaw", ".alw", ".sln", ".sln16", ".vox", ".g722",
    ".g726-16", ".g726-24", ".g726-32", ".g726-40", ".g729",
}  # fmt: skip
LIST_SUFFIXES = {".txt", ".lst", ".list"}


class CallListError(SerError, ValueError):
    """A list of calls that cannot be read as one."""


LEG_LIST_SUFFIXES = LIST_SUFFIXES | {".csv", ".tsv"}  # a call in two files per line: customer, agent


def expand_inputs(items: Iterable[str]) -> list[Path]:
    """Audio files named by paths, glob patterns, folders (searched recursively) or list files (one path per line,
    relative to the list), de-duplicated in order. A name that matches nothing raises ``DataMissing``."""
    found: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            entries = sorted(p for p in path.rglob("*") if not p.is_dir() and not p.name.startswith("."))
            files = [p for p in entries if p.is_file()]
            found += [p for p in files if p.suffix.lower() in AUDIO_SUFFIXES]
            _report_skipped(path, [p for p in files if p.suffix.lower() not in AUDIO_SUFFIXES])
            _report_unreadable(path, [p for p in entries if not p.is_file()])
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
        elif path.is_symlink():
            raise DataMissing(f"broken link: {item} points to {path.readlink()}, which does not exist")
        elif path.exists():
            raise DataMissing(f"not a regular file: {item} (a pipe, socket or device; copy the recording to a file)")
        else:
            raise DataMissing(f"no such file or folder: {item}")
    return list(dict.fromkeys(p.resolve() for p in found))


def _report_skipped(folder: Path, skipped: list[Path]) -> None:
    """Warn about the files of a folder that are not taken for audio by their suffix (name them to analyse them)."""
    if skipped:
        kinds = Counter(p.suffix.lower() or "(none)" for p in skipped)
        listed = ", ".join(f"{count} {suffix}" for suffix, count in kinds.most_common())
        files = "file" if len(skipped) == 1 else "files"
        log.warning("%s: %d %s skipped, not audio by their suffix (%s)", folder, len(skipped), files, listed)


def _report_unreadable(folder: Path, entries: list[Path]) -> None:
    """Warn about the entries of a folder that are not files: broken links, pipes, sockets, devices."""
    if entries:
        names = ", ".join(str(p.relative_to(folder)) for p in entries[:3]) + (", ..." if len(entries) > 3 else "")
        what = "entry" if len(entries) == 1 else "entries"
        reason = "not files (broken links, pipes or devices)"
        log.warning("%s: %d %s skipped, %s: %s", folder, len(entries), what, reason, names)


def expand_leg_pairs(items: Iterable[str]) -> list[tuple[Path, Path]]:
    """Calls in two files, named by list files of one call per line: the customer's file, then the agent's,
    separated by a tab or a comma, relative to the list (blank lines, ``#`` comments and a ``customer,agent`` header
    are skipped), de-duplicated in order; or, instead of lists, the two files of one call. ``DataMissing`` for a
    missing list, ``CallListError`` for a line that does not name two files."""
    items = list(items)
    if len(items) == 2 and not any(Path(item).suffix.lower() in LEG_LIST_SUFFIXES for item in items):
        return [(Path(items[0]).resolve(), Path(items[1]).resolve())]
    pairs: list[tuple[Path, Path]] = []
    for item in items:
        listing = Path(item)
        if not listing.is_file():
            raise DataMissing(f"no such list of call legs: {item}")
        if listing.suffix.lower() not in LEG_LIST_SUFFIXES:
            kinds = ", ".join(sorted(LEG_LIST_SUFFIXES))
            raise CallListError(f"{item}: a batch of calls in two files is a list of them ({kinds})")
        for number, line in enumerate(listing.read_text().splitlines(), start=1):
            text = line.strip()
            fields = [field.strip() for field in text.split("\t" if "\t" in text else ",")]
            if not text or text.startswith("#") or [field.lower() for field in fields] == ["customer", "agent"]:
                continue
            if len(fields) != 2 or not all(fields):
                raise CallListError(f"{item}, line {number}: expected the customer's file, then the agent's: {text!r}")
            pairs.append(((listing.parent / fields[0]).resolve(), (listing.parent / fields[1]).resolve()))
    return list(dict.fromkeys(pairs))
