"""Response and request shapes; the OpenAPI document is generated from these models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EmotionName = Literal["neutral", "anger", "boredom", "disgust", "fear", "happiness", "sadness"]


class ClassInfo(BaseModel):
    code: Literal["N", "W", "L", "E", "A", "F", "T"]
    emotion: EmotionName
    label: int = Field(ge=0, le=6)


class RoleAudio(BaseModel):
    snr_db: float = Field(description="the speech's loud frames over its quiet ones (about its level over the noise)")
    decay_db_per_s: float | None = Field(
        description="how fast the speech can fall silent: low in a room or hands-free; null if the noise hides it"
    )
    narrow_band: bool = Field(
        False,
        description="telephone-band (next to no energy above 4 kHz): a mono call's voices are harder to tell apart",
    )
    warnings: list[Literal["noisy", "reverberant"]]


class UtteranceAnswer(BaseModel):
    start_s: float
    end_s: float
    emotion: EmotionName
    probabilities: dict[str, float]


class Prediction(BaseModel):
    model_config = ConfigDict(populate_by_name=True, protected_namespaces=())
    class_: ClassInfo = Field(alias="class")
    probabilities: dict[str, float] = Field(description="probability of each of the 7 emotions")
    model_version: str
    id: str | None = Field(default=None, description="EmoDB id, for predictions by id")
    duration_s: float | None = Field(default=None, description="duration of the uploaded audio")
    speech_heard: bool | None = Field(
        default=None,
        description="uploads: whether the speech detector heard speech (utterances found, or at least 0.3 s of it)",
    )
    warning: str | None = Field(default=None, description="uploads: set when no speech was heard")
    channel: int | None = Field(default=None, description="uploads: the channel classified, when one was asked for")
    audio: RoleAudio | None = Field(
        default=None, description="uploads: noise and reverberation (warnings: the answer is less reliable)"
    )
    utterances: list[UtteranceAnswer] | None = Field(
        default=None,
        description="uploads: what was classified. With utterances=split (the default) each utterance the speech "
        "detector finds, without the silence or noise around it, and the answer above pools them weighted by "
        "duration; with utterances=whole (or no utterance found) one item spanning the upload",
    )


class BatchPrediction(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    predictions: list[Prediction]
    model_version: str


class PredictById(BaseModel):
    id: str = Field(description="EmoDB file id", examples=["03a01Fa"], pattern=r"^\d{2}[ab]\d{2}[WLEAFTN][a-z]$")


class PredictBatch(BaseModel):
    ids: list[str] = Field(min_length=1, max_length=100)


class TrainRequest(BaseModel):
    params: dict[str, object] = Field(default_factory=dict, examples=[{"model.hidden": 100}])


class Job(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    job_id: str
    state: Literal["queued", "running", "succeeded", "failed", "interrupted"]
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    params: dict[str, object] = Field(default_factory=dict)
    error: str | None = None
    log_tail: list[str] = Field(default_factory=list)
    train_accuracy: float | None = None
    test_accuracy: float | None = None
    model_version: str | None = None
    previous_model_version: str | None = None


Role = Literal["customer", "agent"]


class Segment(BaseModel):
    start_s: float
    end_s: float
    role: Role
    speaker: int = Field(description="the channel (stereo, split) or the diarised voice (0 speaks first)")
    emotion: EmotionName
    probabilities: dict[str, float]
    satisfaction: float = Field(ge=-1, le=1)


class Moment(BaseModel):
    start_s: float
    end_s: float
    emotion: EmotionName
    satisfaction: float = Field(ge=-1, le=1)


class RoleSummary(BaseModel):
    segments: int
    talk_time_s: float
    satisfaction: float | None = Field(ge=-1, le=1)
    satisfaction_first_third: float | None
    satisfaction_last_third: float | None
    trend: float | None = Field(description="last third minus first third")
    emotion_shares: dict[str, float]
    dominant_emotion: EmotionName
    strongest_negative: Moment | None
    confidence: float = Field(ge=0, le=1)
    audio: RoleAudio | None = Field(description="noise, reverberation, band of the role's speech; null if unmeasured")


class CallSummary(BaseModel):
    satisfaction: float | None = Field(description="the customer's: -1 (unsatisfied) .. +1 (satisfied)")
    trend: float | None
    strongest_negative: Moment | None
    confidence: float = Field(ge=0, le=1)
    talk_time_s: dict[Role, float]
    warnings: list[str] = Field(description="audio that makes the figures less reliable (noise, reverberation, band)")
    roles: dict[Role, RoleSummary | None]


class CallAnalysis(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    duration_s: float
    channels: int
    separation: Literal["channels", "diarisation", "leg", "legs"] = Field(
        description="how roles were told apart: stereo channels, diarisation of a mono call's two voices, one leg "
        "(a file of one side), or legs (the two sides in two files)"
    )
    identical_channels: bool = Field(
        description="the channels carry one signal (dual mono, or a stereo codec merged them): analysed as mono"
    )
    customer_channel: int | None = Field(
        description="stereo: the customer's channel (null: not analysed by channel, or customer_channel=auto and no"
        " speech)"
    )
    customer_channel_from: Literal["configured", "first speaker"] | None = Field(
        description="how the customer's channel was decided: configured, or by who speaks first (customer_channel=auto"
        ", with first_speaker)"
    )
    first_speaker: Role | None
    leg: Role | None = Field(description="a mono recording of this side of the call only (query parameter leg)")
    model_version: str
    timeline: list[Segment]
    summary: CallSummary
    satisfaction: float | None = Field(description="the customer's, -1 .. +1 (a heuristic); null without speech")
    satisfaction_weights: dict[str, float]


class Error(BaseModel):
    error: str
    status: int


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    ready: bool
    model_version: str | None = None
    error: str | None = None


class ModelInfo(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    model_version: str
    metadata: dict[str, object]
    metrics: dict[str, object] | None = Field(default=None, description="test metrics of this model version")


SCHEMAS: list[type[BaseModel]] = [
    ClassInfo,
    Prediction,
    BatchPrediction,
    PredictById,
    PredictBatch,
    TrainRequest,
    Job,
    CallAnalysis,
    Error,
    Health,
    Ready,
    ModelInfo,
]
