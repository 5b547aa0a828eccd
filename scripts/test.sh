#!/usr/bin/env bash
# The README's test command: all set-up, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node scripts/run-tests.mjs "$@"
