#!/usr/bin/env bash
# Release binaries of `mirai` for linux/amd64 and linux/arm64 with Debian's cross toolchain
# (`make cross`; `make cross CROSS=aarch64` for one). Usage:
#   scripts/cross-build.sh [aarch64|arm64|x86_64|amd64|<triple>|all]...   (default: all)
# Installs what is missing, idempotently: the cross gcc + libc for every non-native target
# (apt: gcc-aarch64-linux-gnu libc6-dev-arm64-cross on amd64; gcc-x86-64-linux-gnu
# libc6-dev-amd64-cross on arm64) and the rustup targets. The only dependency that builds C
# is ring (via cc): CC_/AR_<triple> point it at the cross gcc/ar. The aarch64 linker is in
# .cargo/config.toml. Output: $CARGO_TARGET_DIR/<triple>/release/mirai, also staged as
# $CARGO_TARGET_DIR/dist/linux/<amd64|arm64>/mirai for the Dockerfile's runtime-prebuilt
# stage (--build-context bin=$CARGO_TARGET_DIR/dist). The binaries link glibc 2.36
# (Debian 12), as gcr.io/distroless/cc-debian12 has.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO="${CARGO:-cargo}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/mirai/target}"

die() { echo "cross-build: $*" >&2; exit 1; }
log() { echo "cross-build: $*" >&2; }

triple_of() {
  case "$1" in
    aarch64 | arm64 | aarch64-unknown-linux-gnu) echo aarch64-unknown-linux-gnu ;;
    x86_64 | amd64 | x86-64 | x86_64-unknown-linux-gnu) echo x86_64-unknown-linux-gnu ;;
    *) die "unknown target '$1' (aarch64, x86_64 or all)" ;;
  esac
}
# Debian architecture and GNU triplet (tool prefix) of a Rust triple.
deb_arch_of() { case "$1" in aarch64-*) echo arm64 ;; x86_64-*) echo amd64 ;; esac; }
gnu_of() { case "$1" in aarch64-*) echo aarch64-linux-gnu ;; x86_64-*) echo x86_64-linux-gnu ;; esac; }

TARGETS=()
[ $# -gt 0 ] || set -- all
for a in "$@"; do
  if [ "$a" = all ]; then
    TARGETS+=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu)
  else
    TARGETS+=("$(triple_of "$a")")
  fi
done
# dedupe, keep order
mapfile -t TARGETS < <(printf '%s\n' "${TARGETS[@]}" | awk '!seen[$0]++')

HOST_ARCH="$(dpkg --print-architecture 2>/dev/null || true)"
[ -n "$HOST_ARCH" ] || die "needs a Debian/Ubuntu host (dpkg) for the cross toolchain"

# --- apt: cross gcc + libc for every non-native target ---------------------------------
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
for t in "${TARGETS[@]}"; do
  arch="$(deb_arch_of "$t")"
  [ "$arch" = "$HOST_ARCH" ] && continue
  gnu="$(gnu_of "$t")"
  for p in "gcc-${gnu//_/-}" "libc6-dev-${arch}-cross"; do
    pkg_installed "$p" || missing+=("$p")
  done
done
command -v file >/dev/null || missing+=(file)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- rustup targets (only the missing ones: no network when all are there) ------------
if command -v rustup >/dev/null; then
  installed="$(rustup target list --installed)"
  add=()
  for t in x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu; do
    grep -qx "$t" <<<"$installed" || add+=("$t")
  done
  if [ ${#add[@]} -gt 0 ]; then
    log "rustup target add ${add[*]}"
    rustup target add "${add[@]}"
  fi
else
  log "rustup not found: assuming the toolchain already has the rust-std for ${TARGETS[*]}"
fi

# --- build ------------------------------------------------------------------------------
for t in "${TARGETS[@]}"; do
  arch="$(deb_arch_of "$t")"
  gnu="$(gnu_of "$t")"
  envs=()
  if [ "$arch" != "$HOST_ARCH" ]; then
    command -v "$gnu-gcc" >/dev/null || die "$gnu-gcc not found after installing gcc-${gnu//_/-}"
    up="$(tr 'a-z-' 'A-Z_' <<<"$t")"
    low="${t//-/_}"
    envs=("CARGO_TARGET_${up}_LINKER=$gnu-gcc" "CC_${low}=$gnu-gcc" "AR_${low}=$gnu-ar")
  fi
  log "building $t${envs[*]:+ (${envs[*]})}"
  env ${envs[@]+"${envs[@]}"} "$CARGO" build --release --locked --bin mirai --target "$t"
done

echo
for t in "${TARGETS[@]}"; do
  bin="$CARGO_TARGET_DIR/$t/release/mirai"
  [ -x "$bin" ] || die "expected $bin after the build"
  staged="$CARGO_TARGET_DIR/dist/linux/$(deb_arch_of "$t")/mirai"
  install -D -m 0755 "$bin" "$staged"
  echo "$bin"
  echo "  $(file -b "$bin")"
  echo "  staged for the image: $staged"
done
