#!/usr/bin/env bash
# Sets up a fresh machine and runs every test: unit tests, pallet benchmark tests, and the
# tests that start real nodes. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
. scripts/env.sh
start=$(date +%s)
echo "[test] building mbds-node (release) ..."
cargo build --release -p mbds-node
echo "[test] running the workspace tests (release profile, so the node build is reused) ..."
cargo test --release --workspace
# Benchmarks of every MBDS pallet run once as tests (frame-benchmarking's test suite).
for manifest in pallets/*/Cargo.toml; do
    if [ -f "$(dirname "$manifest")/src/benchmarking.rs" ]; then
        pkg=$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -1)
        echo "[test] benchmark tests of $pkg ..."
        cargo test --release -p "$pkg" --features runtime-benchmarks
    fi
done
echo "[test] all tests passed in $(( $(date +%s) - start )) s"
