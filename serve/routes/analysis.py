"""POST /analyze: a call's timeline with roles (customer, agent), the customer's satisfaction and the call summary.

Calls are long: the upload streams into a temporary file (never held in memory) under its own limits
(``SER_MAX_CALL_MB``, ``SER_MAX_CALL_SECONDS``), separate from ``/pred``'s.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

from flask import Blueprint, request

from ser.audio.decoding import AudioError, AudioTooLong
from ser.errors import ParamsError
from ser.inference.analysis_config import AUTO_CHANNEL
from ser.inference.calls import analyze, analyze_legs
from serve.auth import require_data_token
from serve.errors import ApiError
from serve.routes.predict import headerless_suffix, upload_stream
from serve.services import services

bp = Blueprint("analysis", __name__)
CHUNK = 1 << 20


def _save_upload(target: Path, stream: BinaryIO | None = None) -> None:
    """Stream the upload (``stream``, else the multipart field ``file`` or a raw audio body) into ``target``, never
    all in memory."""
    with target.open("wb") as sink:
        shutil.copyfileobj(stream or upload_stream("multipart/form-data or audio/*"), sink, CHUNK)
    if target.stat().st_size == 0:
        raise ApiError(422, f"uploaded audio is empty{'' if stream is None else ': ' + target.name}")


def _legs() -> tuple[BinaryIO, BinaryIO] | None:
    """The multipart fields ``customer`` and ``agent`` (one call's two sides in two files), None without them."""
    if request.mimetype != "multipart/form-data" or not {"customer", "agent"} & set(request.files):
        return None
    if not {"customer", "agent"} <= set(request.files):
        raise ApiError(400, 'a call in two files needs both fields, "customer" and "agent"')
    clashing = [name for name in ("channels", "customer_channel", "leg") if name in request.args]
    if clashing or "file" in request.files:
        name = clashing[0] if clashing else "the field file"
        raise ApiError(400, f"a call in two files (customer, agent) does not combine with {name}")
    return request.files["customer"].stream, request.files["agent"].stream


def _options() -> dict[str, Any]:
    """Query parameters: channels (split | mix), customer_channel, first_speaker, leg."""
    channels = request.args.get("channels", "split")
    if channels not in ("split", "mix", "mono"):  # mono: the earlier name of mix
        raise ApiError(400, "channels must be 'split' (stereo: one role per channel) or 'mix' (diarisation)")
    changes: dict[str, Any] = {}
    if "customer_channel" in request.args:
        text = request.args["customer_channel"]
        try:
            changes["customer_channel"] = AUTO_CHANNEL if text == AUTO_CHANNEL else int(text)
        except ValueError:
            raise ApiError(400, f"customer_channel must be a channel number (0 = left) or {AUTO_CHANNEL}") from None
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
        Stereo calls are analysed channel by channel (customer_channel is the customer's, the other the agent's;
        auto: the channel that speaks first is first_speaker's); mono calls, or stereo with channels=mix, are
        separated into two voices by diarisation, and first_speaker says whose voice speaks first. A call whose
        two sides are in two files is sent as the multipart fields customer and agent (instead of file): joined
        side by side and analysed by channel (separation legs). Satisfaction is a configurable heuristic over the
        customer's emotions.
      parameters:
        - name: channels
          in: query
          required: false
          schema: {type: string, enum: [split, mix, mono], default: split}
          description: split analyses each channel of a stereo call as one role; mix (or mono) mixes it down
        - name: customer_channel
          in: query
          required: false
          schema:
            oneOf:
              - {type: integer, minimum: 0, maximum: 7}
              - {type: string, enum: [auto]}
          description: >
            stereo, the customer's channel, or auto: the channel that speaks first is first_speaker's, the other
            the other role's (two channels; default from params.yaml analysis.customer_channel)
        - name: first_speaker
          in: query
          required: false
          schema: {type: string, enum: [agent, customer]}
          description: >
            the role of whoever speaks first: mono (diarised) calls, and stereo calls with customer_channel=auto
            (default from params.yaml)
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
              description: either file, or customer and agent
              properties:
                file: {type: string, format: binary}
                customer: {type: string, format: binary, description: "the customer's leg (with agent, not file)"}
                agent: {type: string, format: binary, description: "the agent's leg (with customer, not file)"}
          audio/wav:
            schema: {type: string, format: binary}
      responses:
        200:
          description: The analysis
          content:
            application/json:
              schema: {$ref: '#/components/schemas/CallAnalysis'}
        400: {$ref: '#/components/responses/Error'}
        401: {$ref: '#/components/responses/Error'}
        413: {$ref: '#/components/responses/Error'}
        415: {$ref: '#/components/responses/Error'}
        422: {$ref: '#/components/responses/Error'}
        503: {$ref: '#/components/responses/Error'}
    """
    require_data_token()
    settings = services().settings
    request.max_content_length = settings.max_call_bytes
    options = _options()
    legs = _legs()
    predictor = services().predictor()
    with tempfile.TemporaryDirectory(prefix="ser-call-") as folder:
        path = Path(folder) / f"call{headerless_suffix()}"  # a suffix that declares headerless audio, kept
        if legs is not None:
            customer = Path(folder) / f"customer{headerless_suffix('customer')}"
            agent = Path(folder) / f"agent{headerless_suffix('agent')}"
            _save_upload(customer, legs[0])
            _save_upload(agent, legs[1])
        else:
            _save_upload(path)
        try:
            if legs is not None:
                return analyze_legs(customer, agent, predictor, options["config"], settings.max_call_seconds)
            return analyze(path, predictor, options["config"], options["per_channel"], settings.max_call_seconds)
        except AudioTooLong as error:
            raise ApiError(413, str(error)) from None
        except AudioError as error:
            raise ApiError(422, str(error)) from None
