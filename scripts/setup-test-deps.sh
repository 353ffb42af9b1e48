#!/usr/bin/env bash
# Installs the non-Rust tools the test suite runs. Idempotent: does nothing if already present.
#  - moto_server (PyPI `moto[server]`): an S3-protocol server the mbds-storage tests start on
#    loopback.
set -euo pipefail

if command -v moto_server >/dev/null 2>&1 && moto_server --help >/dev/null 2>&1; then
    echo "setup-test-deps: moto_server already installed at $(command -v moto_server)"
    exit 0
fi

PYTHON="${PYTHON:-$(command -v python3 || command -v python || true)}"
if [ -z "$PYTHON" ]; then
    echo "setup-test-deps: python3 is required to install moto_server (apt-get install python3-pip)" >&2
    exit 1
fi

echo "setup-test-deps: installing moto[server] with $PYTHON -m pip"
"$PYTHON" -m pip install --quiet 'moto[server]' || "$PYTHON" -m pip install --quiet --user 'moto[server]'

# pyenv needs a rehash to expose new console scripts; a --user install lands in ~/.local/bin.
command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
if command -v moto_server >/dev/null 2>&1; then
    echo "setup-test-deps: moto_server installed at $(command -v moto_server)"
elif [ -x "$HOME/.local/bin/moto_server" ]; then
    echo "setup-test-deps: moto_server installed at $HOME/.local/bin/moto_server (add it to PATH)"
else
    echo "setup-test-deps: moto installed; run it as '$PYTHON -m moto.server'"
fi
