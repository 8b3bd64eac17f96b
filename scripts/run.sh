#!/usr/bin/env bash
# Set up .venv, then run linktrack on a local SQLite file with a demo workspace:
# API, tracking endpoints, event writer and delivery worker in one process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/linktrack serve --demo "$@"
