# Mirai: `make run` starts the fleet on embedded defaults; `make test` runs every test.
# Both install and start what is missing (Postgres + pgvector, NATS JetStream) first.

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= /var/tmp/mirai/target
CARGO ?= cargo

.PHONY: setup run build test test-rust test-fuzz test-readme test-deploy bench lint fmt openapi clean-test-dbs cross test-arm64 nats-auth test-faults test-pg-tls

setup:
	@bash scripts/setup.sh

build:
	$(CARGO) build --bin mirai

run: setup build
	$(CARGO_TARGET_DIR)/debug/mirai dev --demo

clean-test-dbs: setup
	@bash scripts/clean-test-dbs.sh

test: setup clean-test-dbs test-rust test-fuzz test-readme test-deploy test-arm64 test-faults test-pg-tls

test-rust:
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		$(CARGO) test --workspace --no-fail-fast; \
	fi

# schemathesis against every service's OpenAPI on a running `mirai dev`: no 5xx, ever.
test-fuzz: setup build
	@bash scripts/fuzz-api.sh

# The README's walkthrough blocks, pasted as written into bash against a running `mirai dev --demo`.
test-readme: setup build
	@bash scripts/readme-walkthrough.sh

test-deploy: setup
	@bash scripts/check-deploy.sh

# NATS killed, then Postgres stopped hard, under load, on private servers of its own:
# no acknowledged statement lost, readiness and 503s as they should be, recovery automatic.
test-faults: setup build
	@bash scripts/fault-test.sh

# Postgres over TLS as the chart connects (sslmode=verify-full, sslrootcert) on a private
# TLS-only server: migrate and the services' runtime roles over TLS; wrong CA and no TLS refused.
test-pg-tls: setup build
	@bash scripts/check-pg-tls.sh

# Release binaries for x86_64- and aarch64-unknown-linux-gnu with Debian's cross toolchain
# (`make cross CROSS=aarch64` for one); staged in $(CARGO_TARGET_DIR)/dist for the Dockerfile.
cross:
	@CARGO="$(CARGO)" bash scripts/cross-build.sh $(CROSS)

# The arm64 build (debug) under qemu-user: `mirai --version` and `mirai services` as on the host.
test-arm64: build
	@CARGO="$(CARGO)" bash scripts/check-arm64.sh

bench: setup
	$(CARGO) build --release -p mirai -p mirai-bench --bins
	RUST_LOG=warn MIRAI_BIN=$(CARGO_TARGET_DIR)/release/mirai $(CARGO_TARGET_DIR)/release/mirai-bench

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	@bash scripts/lint-openapi.sh
	@bash scripts/deny.sh

fmt:
	$(CARGO) fmt --all

# Regenerates the committed OpenAPI documents (the drift test compares against them).
openapi: build
	@for s in $$($(CARGO_TARGET_DIR)/debug/mirai services); do \
		$(CARGO_TARGET_DIR)/debug/mirai openapi $$s > schemas/openapi/$$s.json; echo "schemas/openapi/$$s.json"; done

# Regenerates the NATS users and permissions (the local server's and the chart's) from
# the services' declarations; the drift test compares against them. `make setup`
# restarts the local server when its file changed.
nats-auth: build
	$(CARGO_TARGET_DIR)/debug/mirai nats-auth > deploy/nats/auth.dev.conf
	$(CARGO_TARGET_DIR)/debug/mirai nats-auth --prod > deploy/helm/mirai/files/nats-auth.conf
