#!/usr/bin/env bash
# Create .venv and install linktrack with its pinned dependencies (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.linktrack-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "linktrack: installing dependencies into .venv (log: .venv/install.log)" >&2
  if ! { .venv/bin/python -m pip install --upgrade pip &&
         .venv/bin/python -m pip install -c constraints.txt -e '.[dev]'; } > .venv/install.log 2>&1; then
    tail -30 .venv/install.log >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
# Customer.io's Node client for tests/e2e/test_tls.py, where Node is installed (pinned by its lock).
if command -v npm > /dev/null; then
  lock=tests/node/node_modules/.package-lock.json
  if [ ! -f "$lock" ] || [ tests/node/package-lock.json -nt "$lock" ]; then
    echo "linktrack: installing tests/node with npm ci" >&2
    npm ci --prefix tests/node --silent --no-audit --no-fund >&2
  fi
fi
