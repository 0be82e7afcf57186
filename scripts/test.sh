#!/usr/bin/env bash
# The README's test command (make test): lint, then the whole suite against a freshly started
# local stack; the stack is stopped afterwards whatever happened. Exit code: non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

# Debian's headless Chromium: it renders the invitation email to PNG (tests/services/notifications)
# and, through chromium-driver, clicks through the reference gateway (tests/browser).
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "installing Debian's chromium and chromium-driver for the browser tests"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null \
    || { echo "FAILED: could not install chromium (apt-get install chromium chromium-driver)" >&2; exit 1; }
fi

# The suite gets a stack of its own, started empty: no backlog from an earlier run or a demo.
export STACK_DATA_DIR="${STACK_DATA_DIR:-$PWD/.stack/test}"
rm -rf "$STACK_DATA_DIR"

if ! $PY -m stack up; then
  echo "FAILED: the local stack did not come up (see above)" >&2
  $PY -m stack down >/dev/null 2>&1
  exit 1
fi
eval "$($PY -m stack env)"

rc=0
make --no-print-directory lint || rc=1
scripts/docs.sh || rc=1
$PY -m pytest "$@" || rc=1
$PY -m stack down
if [ $rc -ne 0 ]; then echo "make test: FAILED" >&2; else echo "make test: all green"; fi
exit $rc
