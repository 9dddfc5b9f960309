#!/usr/bin/env bash
# Validates the deploy artifacts (filled in as they land).
set -euo pipefail
echo "deploy checks: none yet"
