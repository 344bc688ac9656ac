#!/usr/bin/env bash
# Set up everything (scripts/setup.sh) and run the whole test suite: ruff,
# mypy (strict on gd2/), then pytest (unit and integration tests with real etcd,
# real glusterd2 daemons and real brick filesystems). Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check gd2 tests bench
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
# Run from the tests' point of view with the installed package (not the source tree).
exec .venv/bin/pytest "$@"
