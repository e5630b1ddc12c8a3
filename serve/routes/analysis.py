"""POST /analyze: emotion timeline, per-channel summaries and satisfaction score of a call recording."""

from __future__ import annotations

from flask import Blueprint, request

from ser.audio.decoding import AudioError, AudioTooLong
from ser.inference.calls import analyze
from serve.errors import ApiError
from serve.routes.predict import uploaded_audio
from serve.services import services

bp = Blueprint("analysis", __name__)


@bp.post("/analyze")
def analyze_call():
    """Analyse a call recording.
    ---
    post:
      summary: Timeline of emotions, per-channel summaries and a satisfaction score (-1 .. +1)
      parameters:
        - name: channels
          in: query
          required: false
          schema: {type: string, enum: [mono, split], default: mono}
          description: split analyses each channel of a stereo call (e.g. agent and customer) on its own
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
    channels = request.args.get("channels", "mono")
    if channels not in ("mono", "split"):
        raise ApiError(400, "channels must be 'mono' or 'split'")
    data = uploaded_audio("multipart/form-data or audio/*")
    settings = services().settings
    try:
        return analyze(
            data,
            services().predictor(),
            settings.analysis,
            per_channel=channels == "split",
            max_seconds=settings.max_call_seconds,
        )
    except AudioTooLong as error:
        raise ApiError(413, str(error)) from None
    except AudioError as error:
        raise ApiError(422, str(error)) from None
