#!/usr/bin/env bash
# Validate docs/asyncapi/*.json with the AsyncAPI project's own CLI (@asyncapi/cli from npm),
# installed once into a cache outside the clone.
set -uo pipefail
cd "$(dirname "$0")/.."
CLI_VERSION=6.2.0
PREFIX="${STACK_CACHE_DIR:-$HOME/.cache/pro-team-stack}/asyncapi-cli-$CLI_VERSION"
BIN="$PREFIX/node_modules/.bin/asyncapi"
if [ ! -x "$BIN" ]; then
  echo "installing @asyncapi/cli@$CLI_VERSION into $PREFIX"
  mkdir -p "$PREFIX"
  npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error "@asyncapi/cli@$CLI_VERSION" >/dev/null \
    || { echo "FAILED: npm install @asyncapi/cli@$CLI_VERSION" >&2; exit 1; }
fi
"$BIN" config analytics --disable >/dev/null 2>&1 || true
rc=0
for doc in docs/asyncapi/*.json; do
  if "$BIN" validate "$doc" --fail-severity error >/tmp/asyncapi-validate.log 2>&1; then
    echo "asyncapi validate: $doc valid"
  else
    cat /tmp/asyncapi-validate.log; echo "asyncapi validate: $doc INVALID" >&2; rc=1
  fi
done
exit $rc
