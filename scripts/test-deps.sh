#!/usr/bin/env bash
# Installs what the test suite's real clients need, idempotently:
# psql and a PostgreSQL 15 server (to compare results), Python's psycopg2,
# pgjdbc with a JDK, Chromium (the console's browser test), and Node.js
# with pg and pg-cursor (npm, into
# internal/e2e/testdata/node), and versitygw, a real S3 server (go
# install). .ci/run calls it before `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
command -v curl >/dev/null 2>&1 || need+=(curl)  # README.md's HTTP examples (internal/readme)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql)
/usr/bin/python3 -c 'import psycopg2' >/dev/null 2>&1 || need+=(python3-psycopg2)
[ -f /usr/share/java/postgresql.jar ] || need+=(libpostgresql-jdbc-java)
command -v javac >/dev/null 2>&1 || need+=(default-jdk-headless)
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
# Headless Chromium for the web console's browser test (internal/e2e/console_test.go).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
if [ -f internal/e2e/testdata/node/package.json ] && [ ! -d internal/e2e/testdata/node/node_modules ]; then
  (cd internal/e2e/testdata/node && npm ci --no-audit --no-fund --silent)
fi
# A real S3 server for the object-storage tests (internal/objstore).
if ! command -v versitygw >/dev/null 2>&1 && [ ! -x "$(go env GOPATH)/bin/versitygw" ]; then
  go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
fi
