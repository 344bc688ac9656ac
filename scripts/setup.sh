#!/usr/bin/env bash
# Install everything glusterd2 needs on a fresh Debian 12 machine (run as root):
# Debian packages (etcd, GlusterFS server and client, FUSE), a venv in .venv,
# and glusterd2 itself built from this checkout (meson-python + the C codec).
# Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(etcd-server etcd-client glusterfs-server glusterfs-client fuse3 attr python3-venv python3-dev
          gcc pkg-config libsystemd-dev rpm)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip
# The build requirements of pyproject.toml (build isolation is off below): grpcio-tools
# generates the peer protocol's messages (protos/README.md).
.venv/bin/pip install -q meson-python meson ninja cffi 'grpcio-tools>=1.85,<1.86'
# A regular (not editable) install: tests and benchmarks run the installed
# package with its compiled extension, exactly as the RPM will.
PATH="$PWD/.venv/bin:$PATH" .venv/bin/pip install -q --no-build-isolation ".[test]"
echo "setup: glusterd2 $(.venv/bin/glusterd2 --version) installed in .venv"
