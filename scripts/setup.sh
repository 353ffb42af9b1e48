#!/usr/bin/env bash
# Installs what building and testing MBDS needs on a fresh Debian/Ubuntu machine with rustup.
# Idempotent: installs only what is missing, and says what it does.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "[setup] $*"; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        say "need root to run: $*"; exit 1; fi
}

# Debian packages: protoc (litep2p build script), clang + libclang (bindgen in the node's deps).
missing=()
command -v protoc >/dev/null || missing+=(protobuf-compiler)
command -v clang >/dev/null || missing+=(clang)
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || ls /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1 || missing+=(libclang-dev)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    say "Debian packages present (protobuf-compiler, clang, libclang-dev)"
fi

# Rust toolchain, wasm target and rust-src as pinned by rust-toolchain.toml (rustup installs them).
command -v rustup >/dev/null || { say "rustup is required (https://rustup.rs)"; exit 1; }
say "rust toolchain: $(rustup show active-toolchain 2>/dev/null | head -1)"
rustup target list --installed | grep -q wasm32v1-none || { say "adding wasm32v1-none target"; rustup target add wasm32v1-none; }
rustup component list --installed | grep -q rust-src || { say "adding rust-src"; rustup component add rust-src; }

# Test-only tools (the S3-protocol server of the storage tests, zombienet).
if [ "${1:-}" = "--test" ] && [ -x scripts/setup-test-deps.sh ]; then
    scripts/setup-test-deps.sh
fi
say "done"
