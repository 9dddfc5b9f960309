#!/usr/bin/env bash
# Validates deploy/ offline (see scripts/check_deploy.py). Installs its tools if missing:
# helm-python-sdk, kubernetes-validate and jsonschema (PyPI, into Mirai's venv); deck,
# promtool and lua5.1 (Debian: deck, prometheus, lua5.1; Lua runs Kong's edge function).
set -euo pipefail
STATE="${MIRAI_STATE_DIR:-/var/tmp/mirai}"
VENV="$STATE/venv"
if ! "$VENV/bin/python" -c "import helm_python, kubernetes_validate, yaml, jsonschema, referencing, importlib_resources" 2>/dev/null; then
  "$VENV/bin/pip" install -q --disable-pip-version-check helm-python-sdk kubernetes-validate pyyaml jsonschema referencing importlib_resources
fi
if ! command -v deck >/dev/null || ! command -v promtool >/dev/null || ! command -v lua5.1 >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq deck prometheus lua5.1 >/dev/null
fi
exec "$VENV/bin/python" "$(dirname "$0")/check_deploy.py"
