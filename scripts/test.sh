#!/usr/bin/env bash
# The whole test suite in one command (as root on a fresh Debian 12 machine):
# installs what it needs (scripts/setup.sh), then ruff check, mypy and pytest.
# Extra arguments go to pytest, e.g. `scripts/test.sh tests/unit -k capture`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh || exit $?

failed=()
echo "== ruff check"
.venv/bin/ruff check . || failed+=("ruff check")
echo "== mypy"
.venv/bin/mypy || failed+=("mypy")
echo "== pytest"
.venv/bin/pytest -q -p no:cacheprovider "$@"
status=$?

if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: ${failed[*]} (pytest exit status ${status})"
    exit 1
fi
exit "$status"
