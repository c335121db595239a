#!/usr/bin/env bash
# Compiles the eBPF data plane (src/lispstack/io/ebpf/lisp.bpf.c) when the object
# is missing or older than its sources. Build output: lisp.bpf.o is not committed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../src/lispstack/io/ebpf"
object=lisp.bpf.o
if [ -f "$object" ] && [ "$object" -nt lisp.bpf.c ] && [ "$object" -nt lisp_maps.h ]; then
    exit 0
fi
clang -O2 -g -Wall -Werror -target bpf -I"/usr/include/$(gcc -dumpmachine)" \
    -c lisp.bpf.c -o "$object.tmp"
mv "$object.tmp" "$object"
echo "setup: compiled src/lispstack/io/ebpf/$object" >&2
