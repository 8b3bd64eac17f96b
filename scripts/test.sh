#!/usr/bin/env bash
# Run every check: lint, types, tests. Sets up .venv first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The dashboard tests drive Debian's chromium: installed here when missing and this is root
# (elsewhere they skip and say why; under CI=true they fail).
if ! command -v chromium > /dev/null && [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
  echo "linktrack: installing Debian's chromium for the dashboard tests" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core; } > /dev/null
fi
.venv/bin/ruff check src tests benchmarks
.venv/bin/mypy
.venv/bin/pytest "$@"
