#!/usr/bin/env bash
# Fuzz smoke run for CI: builds the cargo-fuzz targets in fuzz/ and runs each one for
# FUZZ_SECONDS (default 30) from the committed corpus. Any crash, failed assertion or hang
# fails the script; libFuzzer prints the input and cargo-fuzz the command that replays it.
#
# Toolchain: cargo-fuzz is documented for nightly, so a rustup nightly toolchain is used
# when there is one; otherwise the default toolchain, with RUSTC_BOOTSTRAP=1 in case a flag
# needs it (FUZZ_NO_NIGHTLY=1 forces this path, to check it). Either way the targets build
# without a sanitizer (`--sanitizer none`, only stable rustc flags): they run safe Rust, where
# AddressSanitizer finds nothing the assertions don't, and it costs 3x in executions.
#
# New inputs go to a scratch directory: the committed corpus is read, never written.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"
export CARGO_TERM_COLOR=never

FUZZ_SECONDS="${FUZZ_SECONDS:-30}"
TARGETS=(parser subject trie connect)

step() { printf '\n==> %s\n' "$*"; }

step "cargo-fuzz"
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
cargo fuzz --version

step "toolchain"
sanitizer=(--sanitizer none)
if [ "${FUZZ_NO_NIGHTLY:-0}" != 1 ] && rustup run nightly rustc --version >/dev/null 2>&1; then
    toolchain=(+nightly)
else
    echo "no nightly toolchain: the default one, with RUSTC_BOOTSTRAP=1"
    export RUSTC_BOOTSTRAP=1
    toolchain=()
fi
cargo "${toolchain[@]}" --version
rustc "${toolchain[@]}" --version

step "build all targets"
cargo "${toolchain[@]}" fuzz build "${sanitizer[@]}"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

for target in "${TARGETS[@]}"; do
    step "fuzz $target for ${FUZZ_SECONDS}s"
    mkdir -p "$scratch/$target"
    # -timeout: one input running longer than 10 s is a hang and fails the run.
    cargo "${toolchain[@]}" fuzz run "${sanitizer[@]}" "$target" \
        "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$FUZZ_SECONDS" -timeout=10 -print_final_stats=1
done
