#!/usr/bin/env bash
# Sets up a fresh machine, builds MBDS, starts the local multi-chain network (platform P,
# hospitals A and B, the consortium; the relayer; three proxies; a local-folder record store)
# and runs the paper's four-step patient journey through the `mbds` CLI, printing each step.
# The network keeps running afterwards until Ctrl-C.
# Usage: scripts/run.sh [--exit] [--dir FOLDER]
#        scripts/run.sh --chains [CHAIN[:VALIDATORS] ...]   (only start chains: mbds-localnet)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. scripts/env.sh
echo "[run] building MBDS (release; the same build as scripts/test.sh; a cold build takes ~40 min on 2 cores) ..."
cargo build --release --workspace --exclude mbds-bencher --all-targets
if [ "${1:-}" = "--chains" ]; then
    shift
    exec "$CARGO_TARGET_DIR/release/mbds-localnet" "$@"
fi
exec "$CARGO_TARGET_DIR/release/mbds-journey" "$@"
