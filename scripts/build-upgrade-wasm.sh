#!/usr/bin/env bash
# Builds the two runtimes the live upgrade test (tests/tests/anchoring.rs) needs, from this
# tree, next to the runtime's own wasm:
#
#   $CARGO_TARGET_DIR/upgrade-rehearsal/mbds_runtime_rehearsal.wasm
#       the runtime with feature `upgrade-rehearsal`: spec_version + 1, pallet-kmc storage
#       version 2 and its migration (migrations::v2::RebuildIdentityIndex). The test's councils
#       upgrade running chains to it.
#   $CARGO_TARGET_DIR/upgrade-rehearsal/mbds_runtime_rehearsal_try.wasm
#       the same with `try-runtime` (the TryRuntime runtime API and every migration's
#       pre/post checks): the test runs its migrations over a running node's state first.
#
# It runs the same cargo command substrate-wasm-builder runs for the runtime's own wasm (same
# target, RUSTFLAGS, profile and target directory), in a project of its own with the extra
# features and another library name: dependencies already built for the runtime's wasm are
# reused, and the runtime's own wasm is never overwritten. Needs the workspace built first
# (`cargo build --release -p mbds-runtime`, which `scripts/test.sh` does).
#
# Usage: scripts/build-upgrade-wasm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

wbuild="$CARGO_TARGET_DIR/release/wbuild"
runtime_project="$wbuild/mbds-runtime"
if [ ! -f "$runtime_project/Cargo.toml" ]; then
    echo "build-upgrade-wasm: $runtime_project/Cargo.toml is missing: build the runtime first (cargo build --release -p mbds-runtime)" >&2
    exit 1
fi
out="$CARGO_TARGET_DIR/upgrade-rehearsal"
mkdir -p "$out"

# build NAME FEATURES...: one wasm project, library NAME, the runtime with FEATURES.
build() {
    local name=$1
    shift
    local features
    features=$(printf '"%s", ' "$@")
    local project="$wbuild/$name"
    mkdir -p "$project/src"
    # The runtime's own wasm project (written by substrate-wasm-builder) with this clone's
    # runtime, the extra features and another package and library name.
    python3 - "$runtime_project/Cargo.toml" "$project/Cargo.toml" "$name" "[${features%, }]" "$PWD/runtime" <<'EOF'
import re, sys
src, dst, name, features, path = sys.argv[1:]
toml = open(src).read()
toml = re.sub(r'(?m)^features = \[.*\]$', f'features = {features}', toml, count=1)
toml = re.sub(r'(?m)^path = ".*"$', f'path = "{path}"', toml, count=1)
toml = re.sub(r'(?m)^name = "mbds_runtime"$', f'name = "{name}"', toml, count=1)
toml = re.sub(r'(?m)^name = "mbds-runtime-blob"$', f'name = "{name.replace("_", "-")}-blob"', toml, count=1)
assert name in toml and features in toml, "unexpected wasm project layout in " + src
open(dst, "w").write(toml)
EOF
    cp Cargo.lock "$project/Cargo.lock"
    echo '#![no_std] #![allow(unused_imports)] pub use wasm_project::*;' > "$project/src/lib.rs"
    echo "[upgrade-wasm] building $name (runtime features: $*) ..."
    local start=$SECONDS
    env -u CARGO_ENCODED_RUSTFLAGS -u RUSTC \
        CARGO_TARGET_DIR="$runtime_project/target" \
        RUSTFLAGS="-C link-arg=--export-table -C link-arg=--export=__heap_base -C link-arg=--import-memory --cfg substrate_runtime " \
        SKIP_WASM_BUILD="" \
        cargo rustc --target=wasm32v1-none --manifest-path="$project/Cargo.toml" --profile release
    cp "$runtime_project/target/wasm32v1-none/release/$name.wasm" "$out/$name.wasm"
    echo "[upgrade-wasm] $out/$name.wasm ($(stat -c %s "$out/$name.wasm") bytes) in $(( SECONDS - start )) s"
}

build mbds_runtime_rehearsal upgrade-rehearsal
build mbds_runtime_rehearsal_try upgrade-rehearsal try-runtime
