#!/usr/bin/env bash
# Set up .venv, then render and track the example message for one person.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/linktrack render examples/welcome.html --person examples/person.json \
  --trigger examples/trigger.json --settings examples/settings.json "$@"
