#!/usr/bin/env bash
# `make test-arm64` (part of `make test`): the linux/arm64 build of `mirai` runs. Builds the
# aarch64 binary (debug, to keep CI short; `make cross` builds the release ones) with
# Debian's cross toolchain, runs it under qemu-user and checks that
#   - `file` says it is an ARM aarch64 ELF,
#   - `mirai --version` prints `mirai <version of the mirai package in Cargo.toml>`,
#   - `mirai services` lists exactly what the host build's `mirai services` lists.
# Installs what is missing, idempotently: qemu-user (Debian; provides qemu-aarch64),
# gcc-aarch64-linux-gnu and libc6-dev-arm64-cross (also the arm64 runtime libs used by -L).
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO="${CARGO:-cargo}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/mirai/target}"
T=aarch64-unknown-linux-gnu
SYSROOT=/usr/aarch64-linux-gnu

fail() { echo "check-arm64: FAIL: $*" >&2; exit 1; }
log() { echo "check-arm64: $*" >&2; }

# --- tools ------------------------------------------------------------------------------
HOST_ARCH="$(dpkg --print-architecture 2>/dev/null || true)"
[ -n "$HOST_ARCH" ] || fail "needs a Debian/Ubuntu host (dpkg) for qemu-user and the cross toolchain"
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
command -v file >/dev/null || missing+=(file)
if [ "$HOST_ARCH" != arm64 ]; then
  command -v qemu-aarch64 >/dev/null || missing+=(qemu-user)
  for p in gcc-aarch64-linux-gnu libc6-dev-arm64-cross; do pkg_installed "$p" || missing+=("$p"); done
fi
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$T"; then
  log "rustup target add $T"
  rustup target add "$T"
fi

# --- binaries ---------------------------------------------------------------------------
HOST_BIN="$CARGO_TARGET_DIR/debug/mirai"
if [ ! -x "$HOST_BIN" ]; then
  log "host binary $HOST_BIN missing: building it"
  "$CARGO" build --bin mirai
fi
ARM_BIN="$CARGO_TARGET_DIR/$T/debug/mirai"
log "building $ARM_BIN"
if [ "$HOST_ARCH" = arm64 ]; then
  "$CARGO" build --locked --bin mirai --target "$T"
else
  CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar \
    "$CARGO" build --locked --bin mirai --target "$T"
fi
[ -x "$ARM_BIN" ] || fail "cargo built nothing at $ARM_BIN"

# --- checks -----------------------------------------------------------------------------
kind="$(file -b "$ARM_BIN")"
case "$kind" in
  ELF\ 64-bit*ARM\ aarch64*) log "file: $kind" ;;
  *) fail "$ARM_BIN is not an ARM aarch64 ELF: file says: $kind" ;;
esac

if [ "$HOST_ARCH" = arm64 ]; then
  run_arm() { "$ARM_BIN" "$@"; }
else
  run_arm() { qemu-aarch64 -L "$SYSROOT" "$ARM_BIN" "$@"; }
fi

pkgid="$("$CARGO" pkgid --offline -p mirai)" || fail "cargo pkgid -p mirai failed"
version="${pkgid##*[#@]}"
expected="mirai $version"
got="$(run_arm --version 2>&1)" || fail "qemu-aarch64 $ARM_BIN --version exited $?: $got"
[ "$got" = "$expected" ] || fail "--version under qemu: expected '$expected', got '$got'"
log "--version: $got"

host_services="$("$HOST_BIN" services)" || fail "host $HOST_BIN services failed"
[ -n "$host_services" ] || fail "host $HOST_BIN services listed nothing"
arm_services="$(run_arm services 2>&1)" || fail "qemu-aarch64 $ARM_BIN services exited $?: $arm_services"
if [ "$arm_services" != "$host_services" ]; then
  echo "check-arm64: FAIL: \`mirai services\` differs between the host and the arm64 build:" >&2
  diff <(echo "$host_services") <(echo "$arm_services") | sed 's/^/  /' >&2 || true
  echo "  (< host $HOST_BIN, > arm64 $ARM_BIN; a stale host binary? run \`make build\`)" >&2
  exit 1
fi
log "services: $(echo "$arm_services" | paste -sd' ')"
echo "check-arm64: ok: the aarch64 build runs under qemu-user ($expected, $(echo "$arm_services" | wc -l) services)"
