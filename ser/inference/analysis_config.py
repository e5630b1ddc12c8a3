"""What call analysis is told: roles, speech detection and the satisfaction mapping (``AnalysisConfig``), read from
the ``analysis:`` block of params.yaml. Light to import: a fresh ``ser analyze`` reads it before the feature code
has loaded (``ser.inference.cold_start``)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ser.data import emodb
from ser.errors import ParamsError
from ser.inference import vad
from ser.inference.dereverb import Dereverb
from ser.inference.summary import ROLES
from ser.inference.turns import TurnSplit
from ser.inference.voice_changes import VoiceChange
from ser.pipeline.params import load_params

# analysis.customer_channel: a stereo call's customer is on the channel that speaks second when the first speaker is
# the agent (the channel that speaks first when it is the customer): ``first_speaker`` decides, as for mono calls.
AUTO_CHANNEL = "auto"

# Satisfaction weight of each emotion: the score of a segment is sum(p(emotion) * weight), in [-1, 1].
DEFAULT_SATISFACTION_WEIGHTS: dict[str, float] = {
    "happiness": 1.0,
    "neutral": 0.2,
    "boredom": -0.2,
    "sadness": -0.6,
    "fear": -0.6,
    "disgust": -0.9,
    "anger": -1.0,
}


@dataclass(frozen=True)
class AnalysisConfig:
    """Roles, speech detection and the satisfaction mapping; the defaults are the ``analysis:`` block of params.yaml
    (tested)."""

    customer_channel: int | str = 0  # a channel number, or AUTO_CHANNEL
    first_speaker: str = "agent"
    leg: str | None = None
    vad_threshold: float = 0.7
    vad_release: float = 0.35
    min_confident_s: float = 0.5
    min_confident_share: float = 0.3
    crosstalk_db: float = 20.0
    leak_correlation: float = 0.8
    leak_lag_s: float = 0.5
    min_segment_s: float = 0.4
    max_segment_s: float = 10.0
    min_gap_s: float = 0.35
    padding_s: float = 0.05
    context_s: float = 0.1
    edge_extension_s: float = 0.5
    edge_margin_db: float = 10.0
    background_margin_db: float = 10.0
    background_release_db: float | None = 6.0
    quiet_region_db: float = 25.0
    pause_margin_db: float = 10.0
    detector_reset_s: float = 2.0
    detector_lead_s: float = 0.5
    detector_margin_db: float = 6.0
    detector_idle_probability: float = 0.1
    detector_idle_margin_db: float = 20.0
    detector_dereverb_rt60_s: float = 0.5
    detector_dereverb_below_db_per_s: float = 280.0
    block_s: float = 30.0
    denoise_voices: bool = True
    turn_gap_s: float | None = 0.1
    min_turn_s: float = 1.0
    turn_quiet_db: float = 25.0
    voice_change_window_s: float = 1.2
    voice_change_windows: int = 2
    satisfaction_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SATISFACTION_WEIGHTS))

    def __post_init__(self) -> None:
        unknown = set(self.satisfaction_weights) - set(emodb.EMOTIONS.values())
        if unknown or any(not -1.0 <= w <= 1.0 for w in self.satisfaction_weights.values()):
            raise ParamsError("satisfaction_weights maps emotion names to weights in [-1, 1]")
        if not 0 < self.min_segment_s <= self.max_segment_s:
            raise ParamsError("analysis needs 0 < min_segment_s <= max_segment_s")
        channel = self.customer_channel
        if channel != AUTO_CHANNEL and (isinstance(channel, bool) or not isinstance(channel, int)):
            raise ParamsError(f"analysis.customer_channel is a channel number (0 = left/first) or {AUTO_CHANNEL!r}")
        if channel != AUTO_CHANNEL and not 0 <= channel <= 7:
            raise ParamsError("analysis.customer_channel must be 0 to 7")
        if self.first_speaker not in ROLES:
            raise ParamsError(f"analysis.first_speaker must be one of {list(ROLES)}")
        if self.leg is not None and self.leg not in ROLES:
            raise ParamsError(f"analysis.leg must be null (both voices) or one of {list(ROLES)}")
        if not 0 < self.vad_release <= self.vad_threshold < 1:
            raise ParamsError("analysis needs 0 < vad_release <= vad_threshold < 1")
        release_db = self.background_release_db
        if release_db is not None and not 0 <= release_db <= self.background_margin_db:
            raise ParamsError("analysis needs 0 <= background_release_db <= background_margin_db (or null: the same)")
        if not 0 <= self.detector_idle_probability < self.vad_release:
            raise ParamsError("analysis needs 0 <= detector_idle_probability < vad_release (0: off)")
        if self.detector_dereverb_rt60_s < 0:
            raise ParamsError("analysis.detector_dereverb_rt60_s must be 0 (off) or more")
        if self.pause_margin_db < 0:
            raise ParamsError("analysis.pause_margin_db must be 0 (off) or more")
        if self.turn_gap_s is not None and not 0 < self.turn_gap_s < self.min_turn_s:
            raise ParamsError("analysis needs 0 < turn_gap_s < min_turn_s (or turn_gap_s null: off)")
        if not self.turn_quiet_db > 0:
            raise ParamsError("analysis.turn_quiet_db must be above 0 dB")
        if self.voice_change_window_s < 0 or self.voice_change_windows < 1:
            raise ParamsError("analysis needs voice_change_window_s >= 0 (0: off) and voice_change_windows >= 1")

    @property
    def voice_change(self) -> VoiceChange | None:
        """How a diarised call's pieces are cut where the voice changes with no quiet between; None: not cut."""
        if self.voice_change_window_s == 0:
            return None
        return VoiceChange(self.voice_change_window_s, self.voice_change_windows)

    @property
    def turn_split(self) -> TurnSplit | None:
        """How a diarised call's segments are cut where the voice may change; None: not cut."""
        if self.turn_gap_s is None:
            return None
        return TurnSplit(self.turn_gap_s, self.min_turn_s, self.turn_quiet_db)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> AnalysisConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in params.items() if k in known})

    @classmethod
    def from_params_file(cls, path: Path) -> AnalysisConfig:
        """The ``analysis:`` block of a params file, or the defaults when there is no such file."""
        if not path.is_file():
            return cls()
        return cls.from_params(load_params(path).get("analysis") or {})

    @property
    def detector_gate(self) -> vad.DetectorGate:
        return vad.DetectorGate(
            self.detector_reset_s,
            self.detector_lead_s,
            self.detector_margin_db,
            self.detector_idle_probability,
            self.detector_idle_margin_db,
        )

    @property
    def detector_dereverb(self) -> Dereverb:
        return Dereverb(self.detector_dereverb_rt60_s, self.detector_dereverb_below_db_per_s)

    @property
    def speech_rules(self) -> vad.SpeechRules:
        return vad.SpeechRules(
            threshold=self.vad_threshold,
            release=self.vad_release,
            min_gap_s=self.min_gap_s,
            min_speech_s=self.min_segment_s,
            min_confident_s=self.min_confident_s,
            min_confident_share=self.min_confident_share,
            padding_s=self.padding_s,
            edge_extension_s=self.edge_extension_s,
            edge_margin_db=self.edge_margin_db,
            background_margin_db=self.background_margin_db,
            background_release_db=self.background_release_db,
            quiet_region_db=self.quiet_region_db,
            pause_margin_db=self.pause_margin_db,
        )
