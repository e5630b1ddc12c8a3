"""Command line: ``ser predict FILE...`` (one utterance each) and ``ser analyze CALL`` (timeline of a call)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from ser.audio.decoding import AudioError
from ser.errors import DataMissing, SerError
from ser.inference.calls import AnalysisConfig, analyze
from ser.inference.predictor import Predictor


def _predict(args: argparse.Namespace) -> int:
    predictor = Predictor.load(args.model)
    rows = []
    for path in args.files:
        if not path.is_file():
            raise DataMissing(f"no such file: {path}")
        try:
            rows.append({"file": str(path), **predictor.predict_audio(path, args.max_seconds)})
        except AudioError as error:
            raise AudioError(f"{path}: {error}") from None
    if args.json:
        print(json.dumps(rows if len(rows) > 1 else rows[0], indent=2))
        return 0
    for row in rows:
        top = sorted(row["probabilities"].items(), key=lambda item: -item[1])[:3]
        ranked = ", ".join(f"{name} {p:.2f}" for name, p in top)
        print(f"{row['file']}: {row['class']['emotion']} ({ranked}) [{row['duration_s']:.2f} s]")
    return 0


def _print_timeline(result: dict[str, Any]) -> None:
    print(f"{'start':>8} {'end':>8} {'ch':>3} {'emotion':<10} {'p':>5} {'satisfaction':>12}")
    for item in result["timeline"]:
        p = item["probabilities"][item["emotion"]]
        print(
            f"{item['start_s']:>8.2f} {item['end_s']:>8.2f} {item['channel']:>3} {item['emotion']:<10} {p:>5.2f} "
            f"{item['satisfaction']:>+12.2f}"
        )
    for channel, summary in result["summary"].items():
        print(
            f"channel {channel}: {summary['segments']} segments, {summary['speech_s']:.1f} s of speech, "
            f"dominant {summary['dominant_emotion']}, satisfaction {summary['satisfaction']:+.2f}"
        )
    if not result["timeline"]:
        print("no speech segments found")
    else:
        print(f"satisfaction (-1 unsatisfied .. +1 satisfied): {result['satisfaction']:+.2f}")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _analyze(args: argparse.Namespace) -> int:
    if not args.call.is_file():
        raise DataMissing(f"no such file: {args.call}")
    result = analyze(
        args.call,
        Predictor.load(args.model),
        AnalysisConfig.from_params_file(args.params),
        per_channel=args.channels == "split",
        max_seconds=args.max_seconds,
        progress=not args.json,
        workers=args.workers,
    )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print_timeline(result)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ser", description="Speech emotion recognition (EmoDB emotions).")
    parser.add_argument("--model", type=Path, default=Path("models/model"), help="model artifact directory")
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="emotion of each utterance file")
    predict.add_argument("files", type=Path, nargs="+")
    predict.add_argument("--json", action="store_true", help="JSON instead of one line per file")
    predict.add_argument("--max-seconds", type=float, default=60.0, help="longest utterance accepted")
    predict.set_defaults(run=_predict)
    call = commands.add_parser("analyze", help="emotion timeline and satisfaction score of a call recording")
    call.add_argument("call", type=Path)
    call.add_argument("--channels", choices=["mono", "split"], default="mono", help="split: analyse each channel")
    call.add_argument("--json", action="store_true", help="JSON instead of a table")
    call.add_argument("--params", type=Path, default=Path("params.yaml"), help="file with the analysis: block")
    call.add_argument("--max-seconds", type=float, default=4 * 3600.0, help="longest call accepted")
    call.add_argument(
        "--workers", type=_positive_int, default=os.cpu_count() or 1, help="processes extracting segment features"
    )
    call.set_defaults(run=_analyze)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one ``error:`` line and return 1."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except SerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
