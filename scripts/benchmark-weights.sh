#!/usr/bin/env bash
# Regenerates every MBDS pallet's weights.rs from FRAME benchmarks run on the real runtime wasm.
#
# 1. builds the runtime with `runtime-benchmarks` (its wasm carries the benchmarks),
# 2. builds mbds-bencher (frame-benchmarking-cli without a node),
# 3. runs `mbds-bencher pallet` for each pallet and writes pallets/<name>/src/weights.rs.
# Usage: scripts/benchmark-weights.sh [pallet_name ...]   (default: every MBDS pallet in the runtime;
# the standard pallets listed in runtime/src/benchmarks.rs keep their crates' weights)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. scripts/env.sh
STEPS="${STEPS:-20}"
REPEAT="${REPEAT:-10}"
echo "[bench] building the runtime with runtime-benchmarks and mbds-bencher ..."
# A separate target dir: the wasm builder writes to the same wbuild/ path whatever the
# features, and the node must keep embedding the runtime without benchmarks.
bench_target="${BENCH_TARGET_DIR:-$HOME/.cache/mbds-target-bench}"
# Two cargo invocations: the bencher links polkadot client crates that do not compile with
# frame-support's `runtime-benchmarks` feature, which one invocation would unify into them.
CARGO_TARGET_DIR="$bench_target" cargo build --release -p mbds-runtime --features runtime-benchmarks
CARGO_TARGET_DIR="$bench_target" cargo build --release -p mbds-bencher
wasm="$bench_target/release/wbuild/mbds-runtime/mbds_runtime.compact.compressed.wasm"
# Measured for this runtime but not MBDS pallets: the transaction extensions every transaction
# pays for. Their weights go to runtime/src/weights/<name>.rs, from frame-benchmarking-cli's own
# template (it writes `frame_system::ExtensionsWeightInfo` for frame_system_extensions).
runtime_level=(frame_system_extensions pallet_transaction_payment)
pallets=("$@")
if [ ${#pallets[@]} -eq 0 ]; then
    pallets=($(sed -n 's/^\s*\[\(pallet_[a-z_]*\), .*/\1/p' runtime/src/benchmarks.rs | grep -v -E 'pallet_(balances|timestamp|sudo|collective|membership|transaction_payment)$') "${runtime_level[@]}")
fi
for p in "${pallets[@]}"; do
    if [[ " ${runtime_level[*]} " == *" $p "* ]]; then
        echo "[bench] $p -> runtime/src/weights/$p.rs (steps $STEPS, repeat $REPEAT)"
        "$bench_target/release/mbds-bencher" pallet \
            --runtime "$wasm" --genesis-builder runtime --genesis-builder-preset development \
            --pallet "$p" --extrinsic '*' --steps "$STEPS" --repeat "$REPEAT" \
            --wasm-execution compiled --heap-pages 4096 \
            --output "runtime/src/weights/$p.rs"
        continue
    fi
    dir="pallets/$(echo "${p#pallet_}" | tr '_' '-')"
    [ -d "$dir" ] || { echo "[bench] $p: no folder $dir"; exit 1; }
    echo "[bench] $p -> $dir/src/weights.rs (steps $STEPS, repeat $REPEAT)"
    "$bench_target/release/mbds-bencher" pallet \
        --runtime "$wasm" --genesis-builder runtime --genesis-builder-preset development \
        --pallet "$p" --extrinsic '*' --steps "$STEPS" --repeat "$REPEAT" \
        --wasm-execution compiled --heap-pages 4096 \
        --template scripts/frame-weight-template.hbs --output "$dir/src/weights.rs"
done
