#!/usr/bin/env bash
# The main job: set up .venv, run the DVC pipeline (dvc repro), then serve its model with gunicorn.
# Data comes from the official EmoDB URL, or from SER_EMODB_SOURCE (a local zip or URL) when set.
# Usage: scripts/run.sh          (API on http://127.0.0.1:8000; SER_BIND, SER_WORKERS, SER_API_TOKEN from env)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source .venv/bin/activate
dvc repro
exec gunicorn -c serve/gunicorn.conf.py serve.wsgi:app
