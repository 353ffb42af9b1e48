#!/usr/bin/env bash
# Sets up a fresh machine and runs every test: unit tests, pallet benchmark tests, and the
# tests that start real nodes. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
. scripts/env.sh
start=$(date +%s)
# One build of everything with the features the tests unify (dev-dependencies included), so the
# mbds-node binary the tests start is built once, not once for `build` and again for `test`.
echo "[test] building the workspace and mbds-node (release; a cold build takes ~40 min on 2 cores) ..."
cargo build --release --workspace --exclude mbds-bencher --all-targets
echo "[test] building the upgrade rehearsal runtimes the live upgrade test deploys ..."
scripts/build-upgrade-wasm.sh
echo "[test] running the workspace tests ..."
cargo test --release --workspace --exclude mbds-bencher
# The operators' networks as zombienet spawns them (zombienet/*.toml), with zombienet's own
# fault steps (a validator frozen, one restarted on its database); the other two networks
# are the same runtime and node with other presets: `zombienet/test.sh` runs all four.
echo "[test] zombienet tests of hospital A's and the consortium's networks ..."
zombienet/test.sh hospital-a consortium
# Benchmarks of every MBDS pallet run once as tests (frame-benchmarking's test suite), in
# one cargo invocation so the runtime-benchmarks build of FRAME is compiled once.
args=()
for manifest in pallets/*/Cargo.toml; do
    if [ -f "$(dirname "$manifest")/src/benchmarking.rs" ]; then
        pkg=$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -1)
        args+=(-p "$pkg" --features "$pkg/runtime-benchmarks")
    fi
done
if [ ${#args[@]} -gt 0 ]; then
    echo "[test] benchmark tests of the pallets: ${args[*]}"
    cargo test --release "${args[@]}" bench
fi
echo "[test] all tests passed in $(( $(date +%s) - start )) s"
