#!/usr/bin/env bash
# make docs: validate every AsyncAPI document with the AsyncAPI project's own CLI (@asyncapi/cli),
# render each to HTML (@asyncapi/html-template) and generate Python models from it, into
# build/docs/ (git-ignored). Fails when a document is invalid, a page does not render, or the
# generated models lack the CloudEvents envelope. The npm packages are installed once into a cache
# outside the clone (npm registry only: puppeteer's browser download is skipped, it is unused).
set -uo pipefail
cd "$(dirname "$0")/.."
CLI_VERSION=6.2.0
HTML_VERSION=3.5.6
CACHE="${STACK_CACHE_DIR:-$HOME/.cache/pro-team-stack}"
CLI_PREFIX="$CACHE/asyncapi-cli-$CLI_VERSION"
HTML_PREFIX="$CACHE/asyncapi-html-template-$HTML_VERSION"
BIN="$CLI_PREFIX/node_modules/.bin/asyncapi"
TEMPLATE="$HTML_PREFIX/node_modules/@asyncapi/html-template"
OUT=build/docs
export SUPPRESS_NO_CONFIG_WARNING=1 PUPPETEER_SKIP_DOWNLOAD=1

npm_install() {  # prefix package
  echo "installing $2 into $1"
  mkdir -p "$1"
  npm install --prefix "$1" --no-audit --no-fund --loglevel=error "$2" >/dev/null \
    || { echo "FAILED: npm install $2" >&2; exit 1; }
}
[ -x "$BIN" ] || npm_install "$CLI_PREFIX" "@asyncapi/cli@$CLI_VERSION"
[ -f "$TEMPLATE/package.json" ] || npm_install "$HTML_PREFIX" "@asyncapi/html-template@$HTML_VERSION"
"$BIN" config analytics --disable >/dev/null 2>&1 || true

rc=0
rm -rf "$OUT" && mkdir -p "$OUT"
for doc in docs/asyncapi/*.json; do
  service=$(basename "$doc" .json)
  log="$OUT/$service.log"
  if ! "$BIN" validate "$doc" --fail-severity error >"$log" 2>&1; then
    cat "$log"; echo "asyncapi: $doc INVALID" >&2; rc=1; continue
  fi
  if ! "$BIN" generate fromTemplate "$doc" "$TEMPLATE" -o "$OUT/$service" --force-write \
      --no-interactive >>"$log" 2>&1 \
      || ! grep -q "$service service" "$OUT/$service/index.html" 2>/dev/null; then
    tail -c 2000 "$log"; echo "asyncapi: $doc did not render to HTML" >&2; rc=1; continue
  fi
  models="$OUT/models/$service"
  if ! "$BIN" generate models python "$doc" -o "$models" --packageName=contract_models \
      --no-interactive >>"$log" 2>&1; then
    tail -c 2000 "$log"; echo "asyncapi: no Python models from $doc" >&2; rc=1; continue
  fi
  # each message's model is the whole envelope: its id, accountid and typed data
  first=$(.venv/bin/python -c "import json,sys; d=json.load(open('$doc')); print(sorted(m for m in d['components']['messages'] if m != 'DeadLetter')[0])")
  model=$(grep -l "class $first\b" "$models"/*.py | head -1)
  if [ -z "$model" ] || ! grep -q "accountid" "$model" || ! grep -q "${first}Data" "$model"; then
    echo "asyncapi: the Python model of $first from $doc lacks the envelope" >&2; rc=1; continue
  fi
  echo "asyncapi: $doc valid; HTML $OUT/$service/index.html; models $models ($first: envelope ok)"
done
exit $rc
