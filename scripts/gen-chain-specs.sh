#!/usr/bin/env bash
# Regenerates chain-specs/ from the runtime's genesis presets (plain and raw).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
cargo build --release -p mbds-node
node="$CARGO_TARGET_DIR/release/mbds-node"
for chain in hospital-local hospital-b-local platform-local consortium-local; do
    echo "[chain-specs] $chain"
    "$node" build-spec --chain "$chain" --disable-default-bootnode > "chain-specs/$chain.json" 2>/dev/null
    "$node" build-spec --chain "$chain" --disable-default-bootnode --raw > "chain-specs/$chain-raw.json" 2>/dev/null
done
