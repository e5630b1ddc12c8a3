"""Fetch the EmoDB archive, extract it atomically and validate what it holds."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import requests
import soundfile as sf
from tqdm import tqdm

from ser.data import emodb
from ser.errors import SerError

log = logging.getLogger(__name__)

SOURCE_ENV = "SER_EMODB_SOURCE"
KEPT_ENTRIES = ("wav/", "lablaut/", "labsilb/", "silb/", "erkennung.txt", "erklaerung.txt")
MAX_UNCOMPRESSED_BYTES = 1 << 30


class DatasetError(SerError, RuntimeError):
    """The archive could not be fetched, or does not hold a complete EmoDB."""


def resolve_source(url: str, environ: dict[str, str] | None = None) -> str:
    """The archive to use: the ``SER_EMODB_SOURCE`` override (path or URL) when set, else ``url``."""
    override = (environ if environ is not None else os.environ).get(SOURCE_ENV, "").strip()
    if override:
        log.info("using %s=%s instead of %s", SOURCE_ENV, override, url)
        return override
    return url


def fetch(source: str, destination: Path, timeout_s: float = 60.0, retries: int = 3) -> None:
    """Copy a local path / file:// URL, or download an http(s) URL, to ``destination``."""
    parsed = urlparse(source)
    if parsed.scheme in ("http", "https"):
        _download(source, destination, timeout_s, retries)
        return
    path = Path(parsed.path if parsed.scheme == "file" else source).expanduser()
    if not path.is_file():
        raise DatasetError(f"archive not found: {path}")
    shutil.copyfile(path, destination)


def _download(url: str, destination: Path, timeout_s: float, retries: int) -> None:
    last_error: Exception | None = None
    for attempt in range(1, retries + 1):
        try:
            with requests.get(url, stream=True, timeout=timeout_s) as response:
                response.raise_for_status()
                total = int(response.headers.get("content-length", 0)) or None
                with (
                    open(destination, "wb") as out,
                    tqdm(total=total, unit="B", unit_scale=True, desc="download EmoDB") as bar,
                ):
                    for chunk in response.iter_content(chunk_size=1 << 16):
                        out.write(chunk)
                        bar.update(len(chunk))
                if total is not None and destination.stat().st_size != total:
                    raise DatasetError(f"download truncated: {destination.stat().st_size} of {total} bytes")
            return
        except (requests.RequestException, DatasetError) as error:
            last_error = error
            log.warning("download attempt %d/%d failed: %s", attempt, retries, error)
            if attempt < retries:
                time.sleep(min(2**attempt, 30))
    raise DatasetError(f"could not download {url} after {retries} attempts: {last_error}")


def _safe_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    members, total = [], 0
    for info in archive.infolist():
        name = info.filename
        if name.startswith(("/", "\\")) or ".." in Path(name).parts:
            raise DatasetError(f"archive has an unsafe path: {name!r}")
        if name.startswith(KEPT_ENTRIES):
            members.append(info)
            total += info.file_size
    if total > MAX_UNCOMPRESSED_BYTES:
        raise DatasetError(f"archive expands to {total} bytes, more than the {MAX_UNCOMPRESSED_BYTES} allowed")
    return members


def extract(archive_path: Path, out_dir: Path) -> None:
    """Extract and validate into a temporary sibling of ``out_dir``, then rename it into place.

    On any error nothing is left at ``out_dir`` or beside it.
    """
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        try:
            with zipfile.ZipFile(archive_path) as archive:
                members = _safe_members(archive)
                for info in tqdm(members, desc="extract EmoDB", unit="file"):
                    archive.extract(info, staging)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as error:
            raise DatasetError(f"archive is corrupt or not a zip file: {error}") from None
        validate(staging)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def validate(raw_dir: Path) -> None:
    """Check an extracted EmoDB: 535 readable 16 kHz mono wavs, valid names, 10 speakers, 7 emotions."""
    wav_dir = raw_dir / "wav"
    if not wav_dir.is_dir():
        raise DatasetError("archive has no wav/ directory: not the EmoDB archive")
    wavs = sorted(wav_dir.glob("*.wav"))
    if len(wavs) != emodb.N_RECORDINGS:
        raise DatasetError(f"expected {emodb.N_RECORDINGS} wav files, found {len(wavs)}: archive incomplete")
    utterances = []
    for wav in wavs:
        try:
            utterances.append(emodb.parse_id(wav.stem))
        except ValueError as error:
            raise DatasetError(str(error)) from None
        try:
            info = sf.info(str(wav))
        except (sf.LibsndfileError, RuntimeError) as error:
            raise DatasetError(f"unreadable audio {wav.name}: {error}") from None
        if info.samplerate != emodb.SAMPLE_RATE or info.channels != 1 or info.frames == 0:
            raise DatasetError(
                f"{wav.name}: expected 16 kHz mono audio, got {info.samplerate} Hz, {info.channels} channel(s)"
            )
    speakers = {u.speaker for u in utterances}
    emotions = {u.emotion_code for u in utterances}
    if speakers != set(emodb.SPEAKERS):
        raise DatasetError(f"expected speakers {sorted(emodb.SPEAKERS)}, found {sorted(speakers)}")
    if emotions != set(emodb.EMOTIONS):
        raise DatasetError(f"expected emotions {sorted(emodb.EMOTIONS)}, found {sorted(emotions)}")
    log.info("validated %d recordings, %d speakers, %d emotions", len(wavs), len(speakers), len(emotions))


def download_emodb(url: str, out_dir: Path, timeout_s: float = 60.0, retries: int = 3) -> None:
    """Fetch (honouring the override) and atomically extract EmoDB into ``out_dir``."""
    source = resolve_source(url)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download.", dir=out_dir.parent) as tmp:
        archive = Path(tmp) / "download.zip"
        fetch(source, archive, timeout_s=timeout_s, retries=retries)
        extract(archive, out_dir)
