#!/usr/bin/env bash
# Installs the non-Rust tools the test suite runs. Idempotent: does nothing if already present.
#  - moto_server (PyPI `moto[server]`): an S3-protocol server the mbds-storage tests start on
#    loopback. Installed with the current python's pip; where that python is "externally
#    managed" (Debian/Ubuntu, PEP 668), into a venv at $MBDS_TEST_VENV
#    (default ~/.cache/mbds-test-venv), where the tests also look for it.
#  - zombienet (npm `@zombienet/cli`, pinned by zombienet/package-lock.json) into
#    zombienet/node_modules: the zombienet tests of the operators' networks (zombienet/test.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# moto_server: on PATH, in the venv, or installed now.
install_moto() {
    VENV="${MBDS_TEST_VENV:-$HOME/.cache/mbds-test-venv}"

    if command -v moto_server >/dev/null 2>&1 && moto_server --help >/dev/null 2>&1; then
        echo "setup-test-deps: moto_server already installed at $(command -v moto_server)"
        return 0
    fi
    if [ -x "$VENV/bin/moto_server" ]; then
        echo "setup-test-deps: moto_server already installed at $VENV/bin/moto_server"
        return 0
    fi

    PYTHON="${PYTHON:-$(command -v python3 || command -v python || true)}"
    if [ -z "$PYTHON" ]; then
        echo "setup-test-deps: python3 is required to install moto_server (apt-get install python3 python3-venv)" >&2
        exit 1
    fi

    echo "setup-test-deps: installing moto[server] with $PYTHON -m pip"
    if "$PYTHON" -m pip install --quiet 'moto[server]' 2>/dev/null; then
        command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
        if command -v moto_server >/dev/null 2>&1; then
            echo "setup-test-deps: moto_server installed at $(command -v moto_server)"
            return 0
        fi
    fi

    echo "setup-test-deps: installing moto[server] into the venv $VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet 'moto[server]'
    echo "setup-test-deps: moto_server installed at $VENV/bin/moto_server"
}

install_moto
"$here/../zombienet/install.sh"
