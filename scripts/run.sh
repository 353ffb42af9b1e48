#!/usr/bin/env bash
# Sets up a fresh machine, builds the node, and runs the local MBDS chains as real processes.
# Usage: scripts/run.sh [CHAIN[:VALIDATORS] ...]   (default: hospital, platform, consortium)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. scripts/env.sh
echo "[run] building mbds-node and mbds-localnet (release; first build takes ~30-40 min on 2 cores) ..."
cargo build --release -p mbds-node -p mbds-tests
echo "[run] starting the local network"
exec "$CARGO_TARGET_DIR/release/mbds-localnet" "$@"
