#!/usr/bin/env bash
# The README's test command (make test): lint, then the whole suite against a freshly started
# local stack; the stack is stopped afterwards whatever happened. Exit code: non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

if ! $PY -m stack up; then
  echo "FAILED: the local stack did not come up (see above)" >&2
  $PY -m stack down >/dev/null 2>&1
  exit 1
fi
eval "$($PY -m stack env)"

rc=0
make --no-print-directory lint || rc=1
$PY -m pytest "$@" || rc=1
$PY -m stack down
if [ $rc -ne 0 ]; then echo "make test: FAILED" >&2; else echo "make test: all green"; fi
exit $rc
