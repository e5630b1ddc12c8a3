"""Command line: ``ser predict FILE...`` (one utterance each) and ``ser analyze CALL...`` (one call's timeline, or a
batch of calls into tables and a report).

The audio and model code is imported once the command is known: a command that reads no table (``predict``, one
call) first keeps pandas out of the process (``ser.lean``), as the API workers do.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ser.errors import DataMissing, SerError
from ser.inference.call_files import LEG_LIST_SUFFIXES, LIST_SUFFIXES
from ser.lean import keep_pandas_out

if TYPE_CHECKING:
    from ser.inference.analysis_config import AnalysisConfig


class UsageError(SerError, ValueError):
    """Command-line options that do not fit together."""


def _predict_inputs(items: list[Path]) -> list[tuple[Path, SerError | None]]:
    """The files ``ser predict`` answers: each file named, the audio files of each folder (recursively, as a batch
    of calls takes them) and the files a list file names. A name that is none of these, or a folder without audio,
    keeps its place with its error, so that the others are still answered."""
    from ser.inference.call_files import expand_inputs

    inputs: list[tuple[Path, SerError | None]] = []
    for item in items:
        if item.is_dir() or (item.is_file() and item.suffix.lower() in LIST_SUFFIXES):
            try:
                files = expand_inputs([str(item)])
            except SerError as error:  # a list naming what is not there
                inputs.append((item, error))
                continue
            inputs += [_named(path) for path in files] or [(item, DataMissing(f"{item}: no audio files in it"))]
        else:
            inputs.append(_named(item))
    return inputs


def _named(path: Path) -> tuple[Path, SerError | None]:
    return path, None if path.is_file() else DataMissing(f"no such file: {path}")


def _predict(args: argparse.Namespace) -> int:
    """Each file's emotion; a file that cannot be read gets one ``error:`` line and the others are still answered
    (exit status 1 if any failed). ``--json``: one object, or a list with ``{"file", "error"}`` for failed files."""
    from ser.audio.decoding import AudioError
    from ser.inference.analysis_config import AnalysisConfig
    from ser.inference.predictor import Predictor

    predictor = Predictor.load(args.model)
    speech = AnalysisConfig.from_params_file(args.params) if args.utterances == "split" else None
    rows, failed = [], 0
    for path, unreadable in _predict_inputs(args.files):
        try:
            if unreadable is not None:
                raise unreadable
            row = {"file": str(path), **predictor.predict_audio(path, args.max_seconds, args.channel, speech)}
        except SerError as error:
            message = f"{path}: {error}" if isinstance(error, AudioError) else str(error)
            failed += 1
            print(f"error: {message}", file=sys.stderr, flush=True)
            rows.append({"file": str(path), "error": message})
            continue
        rows.append(row)
        if not args.json:
            top = sorted(row["probabilities"].items(), key=lambda item: -item[1])[:3]
            ranked = ", ".join(f"{name} {p:.2f}" for name, p in top)
            if row["speech_heard"]:
                heard = "".join(f" ({name}: less reliable)" for name in (row["audio"] or {}).get("warnings", []))
            else:
                heard = " (no speech heard: music, a tone or noise?)"
            count = len(row["utterances"])
            parts = f", {count} utterances" if count > 1 else ""
            line = f"{row['file']}: {row['class']['emotion']} ({ranked}) [{row['duration_s']:.2f} s{parts}]{heard}"
            print(line, flush=True)
    if args.json and failed < len(rows):
        print(json.dumps(rows if len(rows) > 1 else rows[0], indent=2))
    return 1 if failed else 0


def _print_timeline(result: dict[str, Any]) -> None:
    print(f"{'start':>8} {'end':>8} {'role':<9} {'emotion':<10} {'p':>5} {'satisfaction':>12}")
    for item in result["timeline"]:
        p = item["probabilities"][item["emotion"]]
        print(
            f"{item['start_s']:>8.2f} {item['end_s']:>8.2f} {item['role']:<9} {item['emotion']:<10} {p:>5.2f} "
            f"{item['satisfaction']:>+12.2f}"
        )
    if not result["timeline"]:
        print("no speech found")
        return
    if result.get("customer_channel_from") == "first speaker":
        first = "second" if result["first_speaker"] == "agent" else "first"
        print(f"customer on channel {result['customer_channel']} (it spoke {first}: --customer-channel auto)")
    summary = result["summary"]
    for role, part in summary["roles"].items():
        if part is None:
            print(f"{role}: silent")
            continue
        trend = "" if part["trend"] is None else f", trend {part['trend']:+.2f} (first to last third)"
        segments = f"{part['segments']} segment{'' if part['segments'] == 1 else 's'}"
        print(
            f"{role}: {part['talk_time_s']:.1f} s in {segments}, mostly {part['dominant_emotion']}, "
            f"satisfaction {part['satisfaction']:+.2f}{trend}"
        )
    worst = summary["strongest_negative"]
    if worst:
        print(
            f"customer's strongest negative moment: {worst['emotion']} at {worst['start_s']:.1f}-{worst['end_s']:.1f} s"
        )
    if summary["satisfaction"] is not None:
        print(
            f"customer satisfaction (-1 unsatisfied .. +1 satisfied): {summary['satisfaction']:+.2f}, "
            f"confidence {summary['confidence']:.2f}"
        )
    for line in summary["warnings"]:
        print(f"warning: {line}")


def _customer_channel(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a channel number (0 = left) or auto, not {text!r}") from None


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _analysis_config(args: argparse.Namespace) -> AnalysisConfig:
    from ser.inference.analysis_config import AnalysisConfig

    config = AnalysisConfig.from_params_file(args.params)
    changes = {"customer_channel": args.customer_channel, "first_speaker": args.first_speaker, "leg": args.leg}
    return replace(config, **{key: value for key, value in changes.items() if value is not None})


def _is_single_call(args: argparse.Namespace) -> bool:
    if args.out is not None or args.scheduler:
        return False
    if args.legs:  # two audio files: one call; list files of pairs: a batch
        return not any(Path(name).suffix.lower() in LEG_LIST_SUFFIXES for name in args.calls)
    if len(args.calls) != 1:
        return False
    path = Path(args.calls[0])
    return path.is_file() and path.suffix.lower() not in LIST_SUFFIXES


def _check_legs_options(args: argparse.Namespace) -> None:
    """``--legs``: the files are the roles, so the options that say which channel or voice is whose do not apply."""
    others = {"--mix": args.mix, "--leg": args.leg, "--customer-channel": args.customer_channel}
    clashing = [name for name, value in others.items() if value not in (None, False)]
    if clashing:
        raise UsageError(f"--legs analyses calls from their two files: it does not combine with {clashing[0]}")


def _legs(args: argparse.Namespace) -> tuple[Path, Path]:
    """The customer's and the agent's files of ``--legs``; ``SerError`` for what does not fit."""
    if len(args.calls) != 2:
        raise UsageError(
            f"--legs takes two files, the customer's leg then the agent's (or lists of such pairs), not "
            f"{len(args.calls)}"
        )
    _check_legs_options(args)
    missing = [name for name in args.calls if not Path(name).is_file()]
    if missing:
        raise DataMissing(f"no such file: {missing[0]}")
    return Path(args.calls[0]), Path(args.calls[1])


def _analyze_one(args: argparse.Namespace, config: AnalysisConfig) -> dict[str, Any]:
    from ser.inference.cold_start import analyze_cold

    call = _legs(args) if args.legs else Path(args.calls[0])
    options = {"max_seconds": args.max_seconds, "progress": not args.json, "workers": args.workers}
    return analyze_cold(call, args.model, config, per_channel=not args.mix, **options)


def _analyze(args: argparse.Namespace) -> int:
    config = _analysis_config(args)
    if _is_single_call(args):
        result = _analyze_one(args, config)
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            _print_timeline(result)
        return 0
    from ser.inference.batch import analyse_batch

    if args.legs:
        _check_legs_options(args)
    out = args.out or Path("analysis")
    report = analyse_batch(
        args.calls,
        out,
        args.model,
        config,
        not args.mix,
        args.workers,
        args.scheduler,
        progress=not args.json,
        legs=args.legs,
    )
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        print(f"{report.analysed} calls analysed, {report.reused} already done, {len(report.failed)} failed")
        for path, error in report.failed:
            print(f"failed: {path}: {error}")
        print(f"tables: {out}/calls.parquet and segments.parquet (and .csv); report: {report.tables['report']}")
    return 1 if report.failed and not (report.analysed or report.reused) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ser", description="Speech emotion recognition (EmoDB emotions).")
    parser.add_argument("--model", type=Path, default=Path("models/model"), help="model artifact directory")
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="emotion of each utterance file (folders, list files)")
    predict.add_argument("files", type=Path, nargs="+")
    predict.add_argument("--json", action="store_true", help="JSON instead of one line per file")
    predict.add_argument("--max-seconds", type=float, default=60.0, help="longest utterance accepted")
    predict.add_argument("--channel", type=int, help="the one channel to classify (0 = left; default: mixed)")
    predict.add_argument(
        "--utterances",
        choices=("split", "whole"),
        default="split",
        help="split: each utterance found in a file is classified on its own and pooled (default); whole: as one",
    )
    predict.add_argument("--params", type=Path, default=Path("params.yaml"), help="file with the analysis: block")
    predict.set_defaults(run=_predict)
    call = commands.add_parser(
        "analyze",
        help="emotion timeline and customer satisfaction of calls",
        description="One call file: its timeline and summary. Several (paths, globs, folders, list files with one "
        "path per line) or --out: a batch into tables (Parquet, CSV) and an HTML report; a rerun skips the calls "
        "already analysed.",
    )
    call.add_argument("calls", nargs="+", help="call files, glob patterns, folders or list files")
    call.add_argument("--out", type=Path, help="batch output folder (default for a batch: analysis/)")
    call.add_argument(
        "--customer-channel",
        type=_customer_channel,
        help="stereo: the customer's channel, 0 = left, or auto: the channel that speaks first is --first-speaker's"
        " (params.yaml)",
    )
    call.add_argument(
        "--first-speaker",
        choices=["agent", "customer"],
        help="who speaks first: mono calls, and stereo with --customer-channel auto (params.yaml)",
    )
    call.add_argument(
        "--leg",
        choices=["agent", "customer"],
        help="mono: the file holds this side of the call only (one file per leg): no diarisation (params.yaml)",
    )
    call.add_argument(
        "--legs",
        action="store_true",
        help="the two files are one call's two sides, the customer's leg then the agent's: analysed as one call; "
        "a batch: list files (.csv, .tsv, .txt) of one call per line, 'customer.wav,agent.wav'",
    )
    call.add_argument("--mix", action="store_true", help="stereo: mix down and separate the voices by diarisation")
    call.add_argument("--json", action="store_true", help="JSON instead of a table")
    call.add_argument("--params", type=Path, default=Path("params.yaml"), help="file with the analysis: block")
    call.add_argument("--max-seconds", type=float, default=4 * 3600.0, help="longest call accepted")
    call.add_argument(
        "--workers",
        type=_positive_int,
        default=os.cpu_count() or 1,
        help="processes for the calls of a batch; for one call, processes for its segments (threads for its channels)",
    )
    call.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786): run the batch on that cluster")
    call.set_defaults(run=_analyze)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one ``error:`` line and return 1."""
    args = build_parser().parse_args(argv)
    if args.run is _predict or (args.run is _analyze and _is_single_call(args)):
        keep_pandas_out()  # before scikit-learn loads (no table is read or written)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except SerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
