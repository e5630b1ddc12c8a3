"""EmoDB naming scheme, emotion classes and speaker metadata."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ser.errors import InvalidId

ID_PATTERN = re.compile(r"^(?P<speaker>\d{2})(?P<text>[ab]\d{2})(?P<emotion>[WLEAFTN])(?P<take>[a-z])$")

# Label order is part of the model contract: label 0 is neutral, as in the original API.
EMOTIONS: dict[str, str] = {
    "N": "neutral",
    "W": "anger",
    "L": "boredom",
    "E": "disgust",
    "A": "fear",
    "F": "happiness",
    "T": "sadness",
}
CODES: list[str] = list(EMOTIONS)
LABELS: dict[str, int] = {code: label for label, code in enumerate(CODES)}

# From the database documentation (speaker id -> sex, age).
SPEAKERS: dict[str, tuple[str, int]] = {
    "03": ("m", 31),
    "08": ("f", 34),
    "09": ("f", 21),
    "10": ("m", 32),
    "11": ("m", 26),
    "12": ("m", 30),
    "13": ("f", 32),
    "14": ("f", 35),
    "15": ("m", 25),
    "16": ("f", 31),
}

N_RECORDINGS = 535
SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class Utterance:
    """One EmoDB recording, described by its file id (e.g. ``03a01Fa``)."""

    id: str
    speaker: str
    sex: str
    text: str
    emotion_code: str
    take: str

    @property
    def emotion(self) -> str:
        return EMOTIONS[self.emotion_code]

    @property
    def label(self) -> int:
        return LABELS[self.emotion_code]


def is_valid_id(utterance_id: str) -> bool:
    """Whether ``utterance_id`` has the EmoDB id shape (it may still be unknown)."""
    return isinstance(utterance_id, str) and ID_PATTERN.fullmatch(utterance_id) is not None


def parse_id(utterance_id: str) -> Utterance:
    """Parse an EmoDB file id; raise InvalidId (a ValueError) if it is malformed or names an unknown speaker."""
    match = ID_PATTERN.fullmatch(utterance_id) if isinstance(utterance_id, str) else None
    if match is None:
        raise InvalidId(f"not an EmoDB id: {utterance_id!r} (expected e.g. '03a01Fa')")
    speaker = match["speaker"]
    if speaker not in SPEAKERS:
        raise InvalidId(f"unknown EmoDB speaker {speaker!r} in id {utterance_id!r}")
    return Utterance(
        id=utterance_id,
        speaker=speaker,
        sex=SPEAKERS[speaker][0],
        text=match["text"],
        emotion_code=match["emotion"],
        take=match["take"],
    )


def class_info(label: int) -> dict[str, object]:
    """The class description the API returns: code, emotion name and integer label."""
    code = CODES[label]
    return {"code": code, "emotion": EMOTIONS[code], "label": label}
