#!/usr/bin/env bash
# Set up everything (scripts/setup.sh) and run glusterd2 in the foreground on
# localhost with its own embedded etcd. State goes to /var/lib/glusterd2, the
# API socket to /run/glusterd2/gd2.sock. Extra arguments go to glusterd2.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/glusterd2 --address 127.0.0.1 "$@"
