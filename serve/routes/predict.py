"""POST /pred: classify an EmoDB recording by id, or uploaded audio."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any, BinaryIO

from flask import Blueprint, request

from ser.audio.decoding import RAW_FORMATS, AudioError, AudioTooLong, with_header
from ser.data import emodb
from ser.inference.predictor import UnknownRecording
from serve.auth import require_data_token
from serve.errors import ApiError
from serve.services import services

bp = Blueprint("predict", __name__)

AUDIO_TYPES = ("audio/", "application/octet-stream")
# Content types of a raw body that declare headerless telephone audio (RFC 2046's audio/basic, RFC 4856), as the
# file suffix that declares the same (``ser.audio.decoding.RAW_FORMATS``).
HEADERLESS_TYPES = {"audio/basic": ".ul", "audio/pcmu": ".ul", "audio/pcma": ".al", "audio/gsm": ".gsm",
                    "audio/g722": ".g722", "audio/g729": ".g729", "audio/g726-16": ".g726-16",
                    "audio/g726-24": ".g726-24", "audio/g726-32": ".g726-32", "audio/g726-40": ".g726-40"}  # fmt: skip


def _predict_ids(ids: list[Any]) -> list[dict[str, Any]]:
    """400 for a malformed id, 404 for an unknown one, else the predictor's answers in the same order."""
    for utterance_id in ids:
        if not emodb.is_valid_id(utterance_id):
            raise ApiError(400, f"malformed id {utterance_id!r}: expected an EmoDB id such as '03a01Fa'")
    try:
        return services().predictor().predict_ids(ids)
    except UnknownRecording as error:
        raise ApiError(404, f"unknown id {error.utterance_id!r}: no such EmoDB recording") from None


def _predict_json() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, 'body must be a JSON object such as {"id": "03a01Fa"}')
    if "id" in body:
        return {**_predict_ids([body["id"]])[0], "id": body["id"]}
    ids = body.get("ids")
    if ids is None:
        raise ApiError(400, 'JSON body needs "id" (or "ids" for a batch)')
    limit = services().settings.max_batch
    if not isinstance(ids, list) or not 1 <= len(ids) <= limit:
        raise ApiError(400, f'"ids" must be a list of 1 to {limit} EmoDB ids')
    predictions = _predict_ids(ids)
    return {
        "predictions": [{**p, "id": i} for p, i in zip(predictions, ids, strict=True)],
        "model_version": predictions[0]["model_version"],
    }


def upload_stream(accepted: str) -> BinaryIO:
    """The upload as a stream: the multipart field `file`, or a raw audio body; 400 without the field, 415 for other
    content types. Shared by `/pred` (read into memory) and `/analyze` (copied to disk)."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise ApiError(400, 'multipart upload needs a "file" field')
        return upload.stream
    if request.mimetype.startswith(AUDIO_TYPES):
        return request.stream
    raise ApiError(415, f"unsupported content type {request.mimetype or 'none'!r}: send {accepted}")


def headerless_suffix(field: str = "file") -> str:
    """The suffix of ``RAW_FORMATS`` the upload declares (its multipart file name's, or a raw body's content type), or
    "" for audio that says itself what it is."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get(field)
        suffix = PurePath(upload.filename or "").suffix.lower() if upload is not None else ""
    else:
        suffix = HEADERLESS_TYPES.get(request.mimetype, "")
    return suffix if suffix in RAW_FORMATS else ""


def uploaded_audio(accepted: str) -> bytes:
    """The uploaded bytes (see ``upload_stream``); 422 when there are none."""
    data = upload_stream(accepted).read()
    if not data:
        raise ApiError(422, "uploaded audio is empty")
    return data


def _channel() -> int | None:
    """The query parameter ``channel`` (one channel of a stereo upload, 0 = left); None mixes the channels."""
    if "channel" not in request.args:
        return None
    try:
        return int(request.args["channel"])
    except ValueError:
        raise ApiError(400, "channel must be a channel number (0 = left)") from None


def _split_utterances() -> bool:
    """The query parameter ``utterances``: ``split`` (the default: each utterance found in the upload is classified
    on its own and the answers pooled) or ``whole`` (the whole upload as one utterance)."""
    value = request.args.get("utterances", "split")
    if value not in ("split", "whole"):
        raise ApiError(400, "utterances must be 'split' (classify each utterance found and pool them) or 'whole'")
    return value == "split"


def _predict_audio() -> dict[str, Any]:
    channel = _channel()
    speech = services().settings.analysis if _split_utterances() else None
    data = uploaded_audio("JSON, multipart/form-data or audio/*")
    max_seconds = services().settings.max_audio_seconds
    try:
        data = with_header(data, headerless_suffix(), max_seconds)
        return services().predictor().predict_audio(data, max_seconds, channel, speech)
    except AudioTooLong as error:
        raise ApiError(413, str(error)) from None
    except AudioError as error:
        raise ApiError(422, str(error)) from None


@bp.post("/pred")
def pred():
    """Classify one EmoDB recording by id, a batch of ids, or an uploaded audio file.
    ---
    post:
      summary: Predict the emotion of an utterance
      parameters:
        - name: channel
          in: query
          required: false
          schema: {type: integer, minimum: 0}
          description: uploads, the one channel to classify (0 = left; default mixes the channels)
        - name: utterances
          in: query
          required: false
          schema: {type: string, enum: [split, whole], default: split}
          description: uploads, split (the utterances are found as in a mono call, each is classified without the
            silence or noise around it, and the answer pools them weighted by duration) or whole (the upload as
            one utterance)
      requestBody:
        required: true
        content:
          application/json:
            schema:
              oneOf:
                - $ref: '#/components/schemas/PredictById'
                - $ref: '#/components/schemas/PredictBatch'
          multipart/form-data:
            schema:
              type: object
              required: [file]
              properties:
                file:
                  type: string
                  format: binary
                  description: any supported format; headerless telephone audio is declared by the file name's
                    suffix (.ul/.ulaw μ-law, .al/.alaw A-law, .gsm GSM 06.10, .sln/.sln16 16-bit PCM, .vox
                    Dialogic ADPCM, .g722, .g726-16/24/32/40, .g729)
          audio/wav:
            schema: {type: string, format: binary}
          audio/basic:
            schema: {type: string, format: binary}
            description: headerless 8 kHz μ-law (also audio/PCMU; audio/PCMA, audio/GSM, audio/G722,
              audio/G726-32 and its other rates, audio/G729)
      responses:
        200:
          description: The predicted class, all probabilities and the model version
          content:
            application/json:
              schema:
                oneOf:
                  - $ref: '#/components/schemas/Prediction'
                  - $ref: '#/components/schemas/BatchPrediction'
        400: {$ref: '#/components/responses/Error'}
        401: {$ref: '#/components/responses/Error'}
        404: {$ref: '#/components/responses/Error'}
        413: {$ref: '#/components/responses/Error'}
        415: {$ref: '#/components/responses/Error'}
        422: {$ref: '#/components/responses/Error'}
        503: {$ref: '#/components/responses/Error'}
    """
    require_data_token()
    return _predict_json() if request.is_json else _predict_audio()
