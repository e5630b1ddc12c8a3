"""What a supervisor reads first: the customer's satisfaction, its trend, the worst moment, who talked how long.

Satisfaction is a **heuristic**, not a measurement: no labelled satisfaction data exists. A segment's score is the
expected value of configurable per-emotion weights under the model's probabilities (``analysis.satisfaction_weights``
in params.yaml, from -1 for anger to +1 for happiness); a role's score is the talk-time-weighted mean of its
segments. The call's satisfaction is the customer's; the agent's tone gets the same summary (a coaching signal).
"""

from __future__ import annotations

from typing import Any

from ser.data import emodb
from ser.inference.quality import warning_lines

ROLES = ("customer", "agent")
# Below this much speech a role's figures rest on a few seconds: the confidence is scaled down in proportion.
CONFIDENT_TALK_S = 30.0


def satisfaction(probabilities: dict[str, float], weights: dict[str, float]) -> float:
    """Expected satisfaction weight under the emotion probabilities: -1 (very unsatisfied) to +1 (very satisfied)."""
    return float(sum(p * weights.get(emotion, 0.0) for emotion, p in probabilities.items()))


def _weighted(items: list[dict[str, Any]]) -> float | None:
    talk = sum(item["end_s"] - item["start_s"] for item in items)
    if talk <= 0:
        return None
    return round(sum(item["satisfaction"] * (item["end_s"] - item["start_s"]) for item in items) / talk, 4)


def _midpoint(item: dict[str, Any]) -> float:
    return (item["start_s"] + item["end_s"]) / 2


def role_summary(items: list[dict[str, Any]], duration_s: float) -> dict[str, Any] | None:
    """Talk time, emotion shares, satisfaction overall and per third of the call, the strongest negative segment
    and a confidence in [0, 1] (the model's mean top probability, scaled down below ``CONFIDENT_TALK_S`` of
    speech). None when the role never speaks."""
    if not items:
        return None
    talk = sum(item["end_s"] - item["start_s"] for item in items)
    shares = dict.fromkeys(emodb.EMOTIONS.values(), 0.0)
    for item in items:
        shares[item["emotion"]] += (item["end_s"] - item["start_s"]) / talk
    first = [item for item in items if _midpoint(item) < duration_s / 3]
    last = [item for item in items if _midpoint(item) >= 2 * duration_s / 3]
    start_score, end_score = _weighted(first), _weighted(last)
    worst = min(items, key=lambda item: item["satisfaction"])
    certainty = sum(max(item["probabilities"].values()) for item in items) / len(items)
    return {
        "segments": len(items),
        "talk_time_s": round(talk, 3),
        "satisfaction": _weighted(items),
        "satisfaction_first_third": start_score,
        "satisfaction_last_third": end_score,
        "trend": None if start_score is None or end_score is None else round(end_score - start_score, 4),
        "emotion_shares": {name: round(share, 4) for name, share in shares.items()},
        "dominant_emotion": max(shares, key=shares.__getitem__),
        "strongest_negative": None
        if worst["satisfaction"] >= 0
        else {key: worst[key] for key in ("start_s", "end_s", "emotion", "satisfaction")},
        "confidence": round(certainty * min(1.0, talk / CONFIDENT_TALK_S), 4),
    }


def call_summary(
    timeline: list[dict[str, Any]],
    duration_s: float,
    audio: dict[str, dict[str, Any] | None] | None = None,
    diarised: bool = False,
) -> dict[str, Any]:
    """Per-role summaries and the call's satisfaction (the customer's; None when the customer never speaks).

    ``audio``: each role's noise and reverberation (``ser.inference.quality.role_audio``), kept in its summary;
    their warnings are listed in ``warnings`` (one line each), plus one on telling the voices apart when a
    ``diarised`` call's audio is noisy, reverberant or telephone-band (BENCHMARKS.md: diarisation is weakest
    there; through a telephone line, two voices of the same sex were told apart in 3 of 12 pairs)."""
    roles = {role: role_summary([t for t in timeline if t["role"] == role], duration_s) for role in ROLES}
    audio = audio or {}
    warnings = []
    for role, summary in roles.items():
        if summary is not None:
            summary["audio"] = audio.get(role)
            warnings += warning_lines(role, audio.get(role))
    narrow = any((audio.get(role) or {}).get("narrow_band") for role, summary in roles.items() if summary)
    if diarised and narrow:
        warnings.append(
            "customer and agent were told apart by voice in telephone-band audio, where two voices of the same sex"
            " are often confused: the roles are less reliable (a stereo recording keeps them apart)"
        )
    elif diarised and warnings:
        warnings.append("customer and agent were told apart by voice in this audio: the roles are less reliable")
    customer = roles["customer"]
    return {
        "satisfaction": customer["satisfaction"] if customer else None,
        "trend": customer["trend"] if customer else None,
        "strongest_negative": customer["strongest_negative"] if customer else None,
        "confidence": customer["confidence"] if customer else 0.0,
        "talk_time_s": {role: summary["talk_time_s"] if summary else 0.0 for role, summary in roles.items()},
        "warnings": warnings,
        "roles": roles,
    }
