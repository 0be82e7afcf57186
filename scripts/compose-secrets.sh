#!/usr/bin/env bash
# Writes .env (mode 0600, git-ignored) with a random password for every principal and database
# user that docker-compose.yml needs, unless it exists. Run once before `docker compose up`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -e .env ] && { echo ".env exists; keeping it"; exit 0; }
umask 077
{
  for name in ADMIN INVITATIONS MEMBERSHIP NOTIFICATIONS ACCESS_CONTROL GATEWAY DOWNSTREAM; do
    echo "${name}_KAFKA_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
  done
  for name in ROOT INVITATIONS MEMBERSHIP NOTIFICATIONS ACCESS_CONTROL; do
    echo "${name}_DB_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
  done
  echo "API_TOKEN=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
  echo "SESSION_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
} > .env
echo "wrote .env"
