# Speech emotion recognition: the DVC pipeline and the gunicorn API in one image.
#   docker compose build && docker compose up        (see README, "Docker")
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SER_CONTAINER=1 \
    SER_PROJECT_DIR=/srv/project \
    SER_HOST=0.0.0.0 \
    PORT=8000

WORKDIR /opt/ser

# CPU-only torch first, so the pinned requirements below find it satisfied and never pull a CUDA build.
# TORCH_INDEX_URL serves it on a connected host; TORCH_WHEELS is a local wheel directory for offline builders.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG TORCH_WHEELS=/opt/wheels
RUN PIP_FIND_LINKS="$TORCH_WHEELS" PIP_EXTRA_INDEX_URL="$TORCH_INDEX_URL" \
    pip install --retries=1 --timeout=15 torch==2.13.0

COPY requirements.txt requirements-nodeps.txt ./
RUN pip install -r requirements.txt && pip install --no-deps -r requirements-nodeps.txt

COPY pyproject.toml README.md ./
COPY ser ./ser
COPY serve ./serve
RUN pip install --no-deps . && rm -rf build

COPY dvc.yaml dvc.lock params.yaml .dvcignore ./
COPY .dvc/config ./.dvc/config
COPY stages ./stages
COPY scripts ./scripts
COPY data/README.md ./data/README.md

RUN groupadd --gid 10001 ser \
    && useradd --create-home --uid 10001 --gid 10001 ser \
    && mkdir -p /srv/project \
    && chown 10001:10001 /srv/project
USER 10001:10001
# Compile librosa's and the encoders' numba code into the image (~/.cache/numba), so that a new container's
# workers are ready in seconds instead of ~17 s. numba recompiles by itself if the host's CPU differs from the builder's.
RUN python -c "from ser.features.extractor import FeatureConfig, prepare; from ser.pipeline.params import load_params; \
prepare(FeatureConfig.from_params(load_params()['features']))"
VOLUME ["/srv/project"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/health', timeout=4)"]

ENTRYPOINT ["/opt/ser/scripts/project"]
CMD ["api"]
