#!/usr/bin/env bash
# Installs what lispstack needs on Debian 12, then the project into .venv.
# Shared by scripts/test.sh and scripts/demo.sh. Idempotent: the apt step runs
# only when a needed tool is missing (and then needs root), the pip step only
# when .venv is missing or pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

APT_PACKAGES=(
    python3 python3-venv python3-pip
    python3-dev gcc libc6-dev # pytricia is built from source
    tshark iproute2 iputils-ping tcpdump nftables
    librsvg2-bin # rsvg-convert: the tests render the pictures (lispstack decode --ladder)
    clang llvm libbpf-dev libbpf1 bpftool # the eBPF data plane: compiled here, loaded via libbpf
)
STAMP=.venv/.lispstack-installed

log() { echo "setup: $*" >&2; }

system_ready() {
    local tool
    for tool in tshark ip ping tcpdump nft gcc rsvg-convert clang bpftool; do
        command -v "$tool" >/dev/null 2>&1 || return 1
    done
    # python3 -m venv works (Debian ships ensurepip separately) and C headers exist.
    python3 - <<'PY' >/dev/null 2>&1 || return 1
import ensurepip, os, sysconfig, venv
assert os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))
PY
    [ -f /usr/include/bpf/bpf_helpers.h ] || return 1
}

install_system_packages() {
    if [ "$(id -u)" -ne 0 ]; then
        log "missing system packages; run as root (sudo) to install: ${APT_PACKAGES[*]}"
        exit 1
    fi
    log "installing system packages: ${APT_PACKAGES[*]}"
    export DEBIAN_FRONTEND=noninteractive
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get update -q
    apt-get install -y -q "${APT_PACKAGES[@]}"
}

python_ready() {
    [ -x .venv/bin/python ] && [ -x .venv/bin/ruff ] && [ -f "$STAMP" ] \
        && [ "$(cat "$STAMP")" = "$(sha256sum pyproject.toml | cut -d' ' -f1)" ] \
        && .venv/bin/python -c 'import lispstack, pytest, hypothesis, mypy' >/dev/null 2>&1
}

install_python_packages() {
    if ! .venv/bin/python -c 'import sys' >/dev/null 2>&1; then
        log "creating .venv"
        rm -rf .venv
        python3 -m venv .venv
    fi
    log "installing lispstack and its test tools into .venv"
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
    sha256sum pyproject.toml | cut -d' ' -f1 >"$STAMP"
}

system_ready || install_system_packages
python_ready || install_python_packages
bash scripts/build_bpf.sh
