#!/usr/bin/env bash
# Set up the dev environment, lint, and run the default test suite (heavy suites marked `slow` are left out).
# The real-archive pipeline test runs when SER_EMODB_SOURCE names the EmoDB zip.
# Usage: scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
source .venv/bin/activate
ruff check .
ruff format --check .
exec python -m pytest -m "not slow" "$@"
