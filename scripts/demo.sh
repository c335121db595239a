#!/usr/bin/env bash
# The seed scenario, told step by step (as root: it builds network namespaces).
# Installs what it needs (scripts/setup.sh), then runs `lispstack demo`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh
exec .venv/bin/lispstack demo "$@"
