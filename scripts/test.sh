#!/usr/bin/env bash
# The README's test command: all set-up, then every test — unit and integration tests on the
# SQLite store, then the API-level integration suites again against a real etcd.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node scripts/run-tests.mjs dist/test/unit dist/test/integration
echo "== API integration suites again, on etcd =="
CAIRN_TEST_STORE=etcd node scripts/run-tests.mjs \
  dist/test/integration/kubectl-session.test.js \
  dist/test/integration/client-node-*.test.js \
  dist/test/integration/client-server.test.js \
  dist/test/integration/bad-input.test.js
