"""Many calls: ``ser analyze`` over paths, globs, folders and list files, in parallel, resumable, into tables.

Each call's analysis is stored as ``<out>/calls/<sha256 of the file>.json`` the moment it is done (written to a
temporary file and renamed), so a batch that is killed loses nothing it finished: a rerun skips every call whose
content, model version and analysis settings it has already seen, and analyses the rest. A file that cannot be
analysed is reported and skipped; the batch goes on. The tables (Parquet and CSV: ``calls`` one row per call,
``segments`` one row per segment, ``failed`` one row per bad file) and the HTML report are rebuilt at the end from the
stored analyses of the batch's files.

Parallelism: worker processes on this machine (joblib), or a Dask cluster (``scheduler``: its address; the
workers must see the same paths and model directory, e.g. a shared file system).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ser.errors import DataMissing, SerError
from ser.inference.analysis_config import AnalysisConfig
from ser.inference.call_files import expand_inputs, expand_leg_pairs
from ser.inference.calls import analyze, analyze_legs
from ser.inference.predictor import Predictor

log = logging.getLogger(__name__)


class SchedulerUnreachable(SerError, ConnectionError):
    """``--scheduler`` names no Dask scheduler that answers."""


@dataclass
class BatchReport:
    """What a batch did: calls analysed now, calls found already analysed, files that failed (path, error)."""

    analysed: int = 0
    reused: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    tables: dict[str, str] = field(default_factory=dict)


def content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def settings_key(model_version: str, config: AnalysisConfig, per_channel: bool) -> str:
    """What besides the audio decides an analysis: a stored one is reused only when this matches."""

    def numbers_as_floats(value: Any) -> Any:  # 20 in params.yaml and 20.0 as a default are the same setting
        if isinstance(value, dict):
            return {key: numbers_as_floats(item) for key, item in value.items()}
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    settings = {"model": model_version, "config": numbers_as_floats(asdict(config)), "per_channel": per_channel}
    content = json.dumps(settings, sort_keys=True)
    return hashlib.sha256(content.encode()).hexdigest()[:16]


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


_predictors: dict[str, Predictor] = {}


def _predictor(model_dir: str) -> Predictor:
    """One predictor per worker process (loaded on its first call)."""
    if model_dir not in _predictors:
        _predictors[model_dir] = Predictor.load(Path(model_dir))
    return _predictors[model_dir]


Call = tuple[Path, ...]  # one file, or a call in two files (the customer's leg, the agent's)


def call_name(call: Call | tuple[str, ...]) -> str:
    """How a call is named in reports: its file, or its two files joined by " + "."""
    return " + ".join(str(path) for path in call)


def call_hash(call: Call) -> str:
    """The content hash of a call: its file's sha256, or one made from its two legs' (in order)."""
    if len(call) == 1:
        return content_hash(call[0])
    return hashlib.sha256(("legs " + " ".join(content_hash(path) for path in call)).encode()).hexdigest()


def analyse_one(
    paths: tuple[str, ...],
    digest: str,
    store: str,
    model_dir: str,
    config: AnalysisConfig,
    per_channel: bool,
    key: str,
) -> tuple[str, str | None]:
    """Analyse one call (one file, or two: ``analyze_legs``) into ``store``; returns (its name, None) or (its name,
    the error). Runs in a worker."""
    name = call_name(paths)
    try:
        if len(paths) == 2:
            result = analyze_legs(Path(paths[0]), Path(paths[1]), _predictor(model_dir), config)
        else:
            result = analyze(Path(paths[0]), _predictor(model_dir), config, per_channel=per_channel)
    except SerError as error:
        return name, str(error)
    except (OSError, MemoryError) as error:
        return name, f"{type(error).__name__}: {error}"
    record = {"file": paths[0], "sha256": digest, "settings": key, "analysis": result}
    if len(paths) == 2:
        record["agent_file"] = paths[1]
    _write_atomically(Path(store) / f"{digest}.json", json.dumps(record) + "\n")
    return name, None


def _stored(store: Path, digest: str, key: str) -> dict[str, Any] | None:
    """The stored analysis of the file with this content, if it was made with these settings."""
    try:
        record = json.loads((store / f"{digest}.json").read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("settings") == key else None


def _run_local(jobs: list[tuple[Any, ...]], workers: int) -> Iterator[tuple[str, str | None]]:
    if workers <= 1:
        yield from (analyse_one(*job) for job in jobs)
        return
    from joblib import Parallel, delayed

    yield from Parallel(n_jobs=workers, return_as="generator_unordered")(delayed(analyse_one)(*job) for job in jobs)


def _dask_client(scheduler: str):  # type: ignore[no-untyped-def]
    from dask.distributed import Client

    try:
        return Client(scheduler, timeout=10)
    except (OSError, TimeoutError, ValueError) as error:
        raise SchedulerUnreachable(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None


def _run_dask(jobs: list[tuple[Any, ...]], client) -> Iterator[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    from dask.distributed import as_completed

    with client:
        futures = [client.submit(analyse_one, *job, pure=False) for job in jobs]
        for future in as_completed(futures):
            yield future.result()


def analyse_batch(
    inputs: Iterable[str],
    out_dir: Path,
    model_dir: Path,
    config: AnalysisConfig,
    per_channel: bool = True,
    workers: int = 1,
    scheduler: str | None = None,
    progress: bool = True,
    legs: bool = False,
) -> BatchReport:
    """Analyse every call of ``inputs`` not analysed yet into ``out_dir``; write the tables and the report.
    ``legs``: ``inputs`` are lists of calls in two files (``call_files.expand_leg_pairs``)."""
    calls: list[Call] = expand_leg_pairs(inputs) if legs else [(path,) for path in expand_inputs(inputs)]
    if not calls:
        raise DataMissing("no audio files to analyse")
    client = _dask_client(scheduler) if scheduler else None
    model_version = Predictor.load(model_dir).version
    key = settings_key(model_version, config, per_channel)
    store = out_dir / "calls"
    report = BatchReport()
    digests: dict[Call, str] = {}
    records: dict[str, dict[str, Any]] = {}  # by content hash: reused now, or analysed below
    jobs = []
    for call in tqdm(calls, desc="hashing", unit="call", disable=not progress):
        try:
            digests[call] = call_hash(call)
        except OSError as error:
            report.failed.append((call_name(call), f"{type(error).__name__}: {error}"))
            continue
        if (record := _stored(store, digests[call], key)) is not None:
            records[digests[call]] = record
            report.reused += 1
        else:
            paths = tuple(str(path) for path in call)
            jobs.append((paths, digests[call], str(store), str(model_dir.resolve()), config, per_channel, key))
    runner = _run_dask(jobs, client) if client else _run_local(jobs, workers)
    for path, error in tqdm(runner, total=len(jobs), desc="calls", unit="call", disable=not progress):
        if error is None:
            report.analysed += 1
        else:
            log.warning("skipped %s: %s", path, error)
            report.failed.append((path, error))
    for digest in set(digests.values()) - set(records):  # the calls analysed now
        if (record := _stored(store, digest, key)) is not None:
            records[digest] = record
    from ser.inference.report import write_report, write_tables

    rows = [records[digests[call]] for call in calls if digests.get(call) in records]  # in the batch's order
    report.tables = write_tables(rows, report.failed, out_dir)
    report.tables["report"] = str(write_report(rows, report.failed, out_dir / "report.html"))
    return report
