# Sourced by the scripts: one cargo target directory outside the clone, reused across runs.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mbds-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
mkdir -p "$CARGO_TARGET_DIR"
# The target dir is outside the clone, so tell the runtime's wasm builder where the workspace
# (and its Cargo.lock) is: the wasm then builds with exactly the locked dependency versions.
export WASM_BUILD_WORKSPACE_HINT="${WASM_BUILD_WORKSPACE_HINT:-$(pwd)}"
