"""A batch's results as tables (Parquet and CSV) and as one self-contained HTML page with plots (no network)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from ser.data import emodb

ATTENTION = 10  # calls shown with their timelines: the least satisfied customers
COLOURS = {
    "anger": "#d62728",
    "disgust": "#8c564b",
    "fear": "#9467bd",
    "sadness": "#1f77b4",
    "boredom": "#7f7f7f",
    "neutral": "#bcbd22",
    "happiness": "#2ca02c",
}


CALL_COLUMNS = [
    "file", "agent_file", "sha256", "duration_s", "channels", "separation", "customer_channel", "satisfaction",
    "satisfaction_first_third",
    "satisfaction_last_third", "trend", "confidence", "customer_talk_s", "agent_talk_s", "customer_dominant_emotion",
    "agent_dominant_emotion", "agent_satisfaction", "worst_moment_s", "worst_emotion", "segments", "customer_snr_db",
    "customer_decay_db_per_s", "warnings", "model_version",
]  # fmt: skip


def _call_row(record: dict[str, Any]) -> dict[str, Any]:
    analysis, summary = record["analysis"], record["analysis"]["summary"]
    customer, agent = summary["roles"]["customer"] or {}, summary["roles"]["agent"] or {}
    worst = summary["strongest_negative"] or {}
    return {
        "file": record["file"],
        "agent_file": record.get("agent_file"),  # a call in two files: "file" is the customer's leg
        "sha256": record["sha256"],
        "duration_s": analysis["duration_s"],
        "channels": analysis["channels"],
        "separation": analysis["separation"],
        "customer_channel": analysis.get("customer_channel"),  # by channel: the one given, or the one auto chose
        "satisfaction": summary["satisfaction"],
        "satisfaction_first_third": customer.get("satisfaction_first_third"),
        "satisfaction_last_third": customer.get("satisfaction_last_third"),
        "trend": summary["trend"],
        "confidence": summary["confidence"],
        "customer_talk_s": summary["talk_time_s"]["customer"],
        "agent_talk_s": summary["talk_time_s"]["agent"],
        "customer_dominant_emotion": customer.get("dominant_emotion"),
        "agent_dominant_emotion": agent.get("dominant_emotion"),
        "agent_satisfaction": agent.get("satisfaction"),
        "worst_moment_s": worst.get("start_s"),
        "worst_emotion": worst.get("emotion"),
        "segments": len(analysis["timeline"]),
        "customer_snr_db": (customer.get("audio") or {}).get("snr_db"),
        "customer_decay_db_per_s": (customer.get("audio") or {}).get("decay_db_per_s"),
        "warnings": "; ".join(summary.get("warnings", [])),  # records of an earlier version have none
        "model_version": analysis["model_version"],
    }


def _segment_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for item in record["analysis"]["timeline"]:
        row = {"file": record["file"], "sha256": record["sha256"]}
        row.update({key: item[key] for key in ("start_s", "end_s", "role", "speaker", "emotion", "satisfaction")})
        row.update({f"p_{name}": item["probabilities"][name] for name in emodb.EMOTIONS.values()})
        rows.append(row)
    return rows


def write_tables(records: list[dict[str, Any]], failed: list[tuple[str, str]], out_dir: Path) -> dict[str, str]:
    """calls / segments / failed as Parquet and CSV in ``out_dir``; returns their paths by name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {
        "calls": pd.DataFrame([_call_row(r) for r in records], columns=CALL_COLUMNS),
        "segments": pd.DataFrame([row for r in records for row in _segment_rows(r)]),
        "failed": pd.DataFrame(failed, columns=["file", "error"]),
    }
    written = {}
    for name, table in tables.items():
        table.to_parquet(out_dir / f"{name}.parquet", index=False)
        table.to_csv(out_dir / f"{name}.csv", index=False)
        written[name] = str(out_dir / f"{name}.parquet")
    return written


def _png(figure: plt.Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _distribution(scores: list[float]) -> str:
    figure, axis = plt.subplots(figsize=(7, 2.6))
    axis.hist(scores, bins=20, range=(-1, 1), color="#4c72b0")
    axis.set_xlabel("customer satisfaction (-1 unsatisfied .. +1 satisfied)")
    axis.set_ylabel("calls")
    return _png(figure)


def _timeline(record: dict[str, Any]) -> str:
    analysis = record["analysis"]
    figure, axis = plt.subplots(figsize=(9, 1.3))
    for item in analysis["timeline"]:
        lane = 1 if item["role"] == "customer" else 0
        axis.broken_barh(
            [(item["start_s"], item["end_s"] - item["start_s"])], (lane - 0.35, 0.7), color=COLOURS[item["emotion"]]
        )
    axis.set_yticks([0, 1], ["agent", "customer"])
    axis.set_xlim(0, max(analysis["duration_s"], 1.0))
    axis.set_xlabel("seconds")
    return _png(figure)


def write_report(records: list[dict[str, Any]], failed: list[tuple[str, str]], path: Path) -> Path:
    """One HTML file, images inlined, that opens without a network: the satisfaction distribution, the calls that
    need attention (least satisfied customers) with their timelines, and the files that failed."""
    scored = [(_call_row(r), r) for r in records if r["analysis"]["summary"]["satisfaction"] is not None]
    rows = sorted(scored, key=lambda pair: pair[0]["satisfaction"])
    scores = [row["satisfaction"] for row, _ in rows]
    legend = " ".join(f'<span style="color:{c}">&#9632; {html.escape(e)}</span>' for e, c in COLOURS.items())
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Call analysis</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:70em}td,th{padding:2px 8px;text-align:left}</style>",
        "</head><body><h1>Call analysis</h1>",
        f"<p>{len(records)} calls analysed, {len(failed)} failed. Satisfaction is a heuristic mapping of the "
        "customer's emotions (see README), not a measurement.</p>",
    ]
    if scores:
        parts.append(f"<h2>Customer satisfaction</h2><img alt='distribution' src='{_distribution(scores)}'>")
        parts.append(f"<h2>Calls that need attention</h2><p>{legend}</p>")
        for row, record in rows[:ATTENTION]:
            worst = (
                f"worst at {row['worst_moment_s']:.1f} s ({html.escape(str(row['worst_emotion']))})"
                if row["worst_moment_s"] is not None
                else "no negative moment"
            )
            trend = "" if row["trend"] is None else f", trend {row['trend']:+.2f}"
            warned = f"<p><em>{html.escape(row['warnings'])}</em></p>" if row["warnings"] else ""
            parts.append(
                f"<h3>{html.escape(Path(row['file']).name)}</h3><p>satisfaction {row['satisfaction']:+.2f}{trend}, "
                f"{worst}, confidence {row['confidence']:.2f}</p>{warned}<img alt='timeline' src='{_timeline(record)}'>"
            )
    if failed:
        items = "".join(f"<tr><td>{html.escape(f)}</td><td>{html.escape(e)}</td></tr>" for f, e in failed)
        parts.append(f"<h2>Files that failed</h2><table><tr><th>file</th><th>error</th></tr>{items}</table>")
    parts.append("</body></html>")
    path.write_text("\n".join(parts))
    return path
