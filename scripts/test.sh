#!/usr/bin/env bash
# The README's test command: all set-up, then every test — unit tests once, and the integration
# suite twice, against the SQLite store and against a real etcd.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node scripts/run-tests.mjs dist/test/unit dist/test/integration
echo "== integration suite again, on etcd =="
CAIRN_TEST_STORE=etcd node scripts/run-tests.mjs dist/test/integration
