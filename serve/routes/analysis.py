"""POST /analyze: a call's timeline with roles (customer, agent), the customer's satisfaction and the call summary.

Calls are long: the upload streams into a temporary file (never held in memory) under its own limits
(``SER_MAX_CALL_MB``, ``SER_MAX_CALL_SECONDS``), separate from ``/pred``'s.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from flask import Blueprint, request

from ser.audio.decoding import AudioError, AudioTooLong
from ser.errors import ParamsError
from ser.inference.calls import analyze
from serve.errors import ApiError
from serve.routes.predict import upload_stream
from serve.services import services

bp = Blueprint("analysis", __name__)
CHUNK = 1 << 20


def _save_upload(target: Path) -> None:
    """Stream the upload (multipart field ``file`` or a raw audio body) into ``target``, never all in memory."""
    with target.open("wb") as sink:
        shutil.copyfileobj(upload_stream("multipart/form-data or audio/*"), sink, CHUNK)
    if target.stat().st_size == 0:
        raise ApiError(422, "uploaded audio is empty")


def _options() -> dict[str, Any]:
    """Query parameters: channels (split | mix), customer_channel, first_speaker, leg."""
    channels = request.args.get("channels", "split")
    if channels not in ("split", "mix", "mono"):  # mono: the earlier name of mix
        raise ApiError(400, "channels must be 'split' (stereo: one role per channel) or 'mix' (diarisation)")
    changes: dict[str, Any] = {}
    if "customer_channel" in request.args:
        try:
            changes["customer_channel"] = int(request.args["customer_channel"])
        except ValueError:
            raise ApiError(400, "customer_channel must be a channel number (0 = left)") from None
    for name in ("first_speaker", "leg"):
        if name in request.args:
            changes[name] = request.args[name]
    try:
        config = replace(services().settings.analysis, **changes)
    except ParamsError as error:
        raise ApiError(400, str(error)) from None
    return {"config": config, "per_channel": channels == "split"}


@bp.post("/analyze")
def analyze_call():
    """Analyse a call recording.
    ---
    post:
      summary: Timeline of emotions by role, the customer's satisfaction (-1 .. +1) and the call summary
      description: >
        Stereo calls are analysed channel by channel (customer_channel is the customer's, the other the agent's);
        mono calls, or stereo with channels=mix, are separated into two voices by diarisation, and first_speaker
        says whose voice speaks first. Satisfaction is a configurable heuristic over the customer's emotions.
      parameters:
        - name: channels
          in: query
          required: false
          schema: {type: string, enum: [split, mix, mono], default: split}
          description: split analyses each channel of a stereo call as one role; mix (or mono) mixes it down
        - name: customer_channel
          in: query
          required: false
          schema: {type: integer, minimum: 0, maximum: 7}
          description: stereo, the customer's channel (default from params.yaml analysis.customer_channel)
        - name: first_speaker
          in: query
          required: false
          schema: {type: string, enum: [agent, customer]}
          description: mono, the role of whoever speaks first (default from params.yaml)
        - name: leg
          in: query
          required: false
          schema: {type: string, enum: [agent, customer]}
          description: >
            mono, the file holds this side of the call only (recorders that write each leg to its own file):
            no diarisation, every segment is this role's; a stereo call analysed by channel is refused (422)
      requestBody:
        required: true
        content:
          multipart/form-data:
            schema:
              type: object
              required: [file]
              properties:
                file: {type: string, format: binary}
          audio/wav:
            schema: {type: string, format: binary}
      responses:
        200:
          description: The analysis
          content:
            application/json:
              schema: {$ref: '#/components/schemas/CallAnalysis'}
        400: {$ref: '#/components/responses/Error'}
        413: {$ref: '#/components/responses/Error'}
        415: {$ref: '#/components/responses/Error'}
        422: {$ref: '#/components/responses/Error'}
        503: {$ref: '#/components/responses/Error'}
    """
    settings = services().settings
    request.max_content_length = settings.max_call_bytes
    options = _options()
    predictor = services().predictor()
    with tempfile.TemporaryDirectory(prefix="ser-call-") as folder:
        path = Path(folder) / "call"
        _save_upload(path)
        try:
            return analyze(path, predictor, options["config"], options["per_channel"], settings.max_call_seconds)
        except AudioTooLong as error:
            raise ApiError(413, str(error)) from None
        except AudioError as error:
            raise ApiError(422, str(error)) from None
