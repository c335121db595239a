"""libbpf (Debian's libbpf1) through ctypes: load a BPF object, update its maps, attach tc programs.

Only what the eBPF data plane needs: libbpf parses the ELF object, creates the
maps, relocates and loads the programs (the kernel verifier runs then), and
attaches them to tc hooks over netlink (bpf_tc_*). Errors become OSError with
libbpf's errno. libbpf's own messages (the verifier log on a failed load) go
to stderr only when LISPSTACK_LIBBPF_LOG is set.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from dataclasses import dataclass
from pathlib import Path

BPF_TC_INGRESS = 1
BPF_TC_EGRESS = 2
BPF_ANY = 0
BPF_TC_F_REPLACE = 1


class TcHook(ctypes.Structure):
    """struct bpf_tc_hook (libbpf.h)."""

    _fields_ = (
        ("sz", ctypes.c_size_t),
        ("ifindex", ctypes.c_int),
        ("attach_point", ctypes.c_int),
        ("parent", ctypes.c_uint32),
    )


class TcOpts(ctypes.Structure):
    """struct bpf_tc_opts (libbpf.h)."""

    _fields_ = (
        ("sz", ctypes.c_size_t),
        ("prog_fd", ctypes.c_int),
        ("flags", ctypes.c_uint32),
        ("prog_id", ctypes.c_uint32),
        ("handle", ctypes.c_uint32),
        ("priority", ctypes.c_uint32),
    )


class TestRunOpts(ctypes.Structure):
    """struct bpf_test_run_opts (bpf.h)."""

    _fields_ = (
        ("sz", ctypes.c_size_t),
        ("data_in", ctypes.c_void_p),
        ("data_out", ctypes.c_void_p),
        ("data_size_in", ctypes.c_uint32),
        ("data_size_out", ctypes.c_uint32),
        ("ctx_in", ctypes.c_void_p),
        ("ctx_out", ctypes.c_void_p),
        ("ctx_size_in", ctypes.c_uint32),
        ("ctx_size_out", ctypes.c_uint32),
        ("retval", ctypes.c_uint32),
        ("repeat", ctypes.c_int),
        ("duration", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("cpu", ctypes.c_uint32),
        ("batch_size", ctypes.c_uint32),
    )


_lib: ctypes.CDLL | None = None


def library() -> ctypes.CDLL:
    """libbpf.so.1, its prototypes declared (OSError when it is not installed)."""
    global _lib
    if _lib is not None:
        return _lib
    name = ctypes.util.find_library("bpf") or "libbpf.so.1"
    lib = ctypes.CDLL(name, use_errno=True)
    p, i, u32, vp = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32, ctypes.c_void_p
    for function, restype, argtypes in (
        ("bpf_object__open_file", p, (ctypes.c_char_p, vp)),
        ("bpf_object__load", i, (p,)),
        ("bpf_object__close", None, (p,)),
        ("bpf_object__find_map_by_name", p, (p, ctypes.c_char_p)),
        ("bpf_object__find_program_by_name", p, (p, ctypes.c_char_p)),
        ("bpf_map__set_max_entries", i, (p, u32)),
        ("bpf_map__fd", i, (p,)),
        ("bpf_program__fd", i, (p,)),
        ("bpf_map_update_elem", i, (i, vp, vp, ctypes.c_uint64)),
        ("bpf_map_delete_elem", i, (i, vp)),
        ("bpf_map_lookup_elem", i, (i, vp, vp)),
        ("bpf_tc_hook_create", i, (ctypes.POINTER(TcHook),)),
        ("bpf_tc_hook_destroy", i, (ctypes.POINTER(TcHook),)),
        ("bpf_tc_attach", i, (ctypes.POINTER(TcHook), ctypes.POINTER(TcOpts))),
        ("bpf_tc_detach", i, (ctypes.POINTER(TcHook), ctypes.POINTER(TcOpts))),
        ("bpf_prog_test_run_opts", i, (i, ctypes.POINTER(TestRunOpts))),
        ("libbpf_num_possible_cpus", i, ()),
        ("libbpf_set_print", vp, (vp,)),
    ):
        fn = getattr(lib, function)
        fn.restype, fn.argtypes = restype, argtypes
    if not os.environ.get("LISPSTACK_LIBBPF_LOG"):
        lib.libbpf_set_print(None)
    _lib = lib
    return lib


def _check(result: int, what: str) -> int:
    """libbpf returns -errno (or -1 with errno set) on failure."""
    if result < 0:
        code = -result if result != -1 else (ctypes.get_errno() or errno.EINVAL)
        raise OSError(code, f"{what}: {os.strerror(code)}")
    return result


@dataclass(frozen=True, slots=True)
class TestRun:
    retval: int
    data: bytes
    duration_ns: int


class BpfObject:
    """A loaded BPF object file: its maps and programs by name; `close` unloads it."""

    def __init__(self, path: Path, max_entries: dict[str, int] | None = None) -> None:
        lib = self._lib = library()
        ctypes.set_errno(0)
        obj = lib.bpf_object__open_file(str(path).encode(), None)
        if not obj:
            _check(-(ctypes.get_errno() or errno.ENOENT), f"cannot open {path}")
        self._obj: int | None = obj
        try:
            for name, entries in (max_entries or {}).items():
                _check(lib.bpf_map__set_max_entries(self._find_map(name), entries), name)
            _check(lib.bpf_object__load(obj), f"the kernel refused {path.name}")
        except OSError:
            self.close()
            raise

    def _find_map(self, name: str) -> int:
        found: int | None = self._lib.bpf_object__find_map_by_name(self._obj, name.encode())
        if not found:
            raise OSError(errno.ENOENT, f"no map {name} in the BPF object")
        return found

    def map_fd(self, name: str) -> int:
        return _check(self._lib.bpf_map__fd(self._find_map(name)), name)

    def program_fd(self, name: str) -> int:
        found = self._lib.bpf_object__find_program_by_name(self._obj, name.encode())
        if not found:
            raise OSError(errno.ENOENT, f"no program {name} in the BPF object")
        return _check(self._lib.bpf_program__fd(found), name)

    def close(self) -> None:
        if self._obj is not None:
            self._lib.bpf_object__close(self._obj)
            self._obj = None


def update(fd: int, key: bytes, value: bytes) -> None:
    _check(library().bpf_map_update_elem(fd, key, value, BPF_ANY), "BPF map update")


def delete(fd: int, key: bytes) -> bool:
    """False when the key was not there."""
    result: int = library().bpf_map_delete_elem(fd, key)
    if result < 0 and (ctypes.get_errno() == errno.ENOENT or result == -errno.ENOENT):
        return False
    _check(result, "BPF map delete")
    return True


def lookup(fd: int, key: bytes, value_size: int) -> bytes | None:
    value = ctypes.create_string_buffer(value_size)
    result: int = library().bpf_map_lookup_elem(fd, key, value)
    if result < 0:
        return None
    return value.raw


def possible_cpus() -> int:
    return _check(library().libbpf_num_possible_cpus(), "possible CPUs")


def tc_attach(ifindex: int, ingress: bool, prog_fd: int, handle: int, priority: int) -> None:
    """Attach a direct-action classifier to the interface's clsact hook (created if
    missing), replacing one with the same handle and priority (a killed node's)."""
    lib = library()
    hook = _hook(ifindex, ingress)
    result = lib.bpf_tc_hook_create(ctypes.byref(hook))
    if result < 0 and result != -errno.EEXIST:
        _check(result, f"clsact on ifindex {ifindex}")
    opts = TcOpts(ctypes.sizeof(TcOpts), prog_fd, BPF_TC_F_REPLACE, 0, handle, priority)
    _check(lib.bpf_tc_attach(ctypes.byref(hook), ctypes.byref(opts)), f"tc on ifindex {ifindex}")


def tc_detach(ifindex: int, ingress: bool, handle: int, priority: int) -> bool:
    """Remove our classifier (False: it was not there, or the interface is gone)."""
    opts = TcOpts(ctypes.sizeof(TcOpts), 0, 0, 0, handle, priority)
    result: int = library().bpf_tc_detach(ctypes.byref(_hook(ifindex, ingress)), ctypes.byref(opts))
    return result >= 0


def _hook(ifindex: int, ingress: bool) -> TcHook:
    point = BPF_TC_INGRESS if ingress else BPF_TC_EGRESS
    return TcHook(ctypes.sizeof(TcHook), ifindex, point, 0)


def test_run(prog_fd: int, packet: bytes, repeat: int = 1, ctx: bytes | None = None) -> TestRun:
    """BPF_PROG_TEST_RUN: the program's verdict and the packet as it left it."""
    out = ctypes.create_string_buffer(len(packet) + 256)
    data = ctypes.create_string_buffer(packet, len(packet))
    context = ctypes.create_string_buffer(ctx, len(ctx)) if ctx is not None else None
    opts = TestRunOpts(
        sz=ctypes.sizeof(TestRunOpts),
        data_in=ctypes.cast(data, ctypes.c_void_p),
        data_out=ctypes.cast(out, ctypes.c_void_p),
        data_size_in=len(packet),
        data_size_out=len(out),
        ctx_in=ctypes.cast(context, ctypes.c_void_p) if context is not None else None,
        ctx_size_in=len(ctx) if ctx is not None else 0,
        repeat=repeat,
    )
    _check(library().bpf_prog_test_run_opts(prog_fd, ctypes.byref(opts)), "BPF test run")
    return TestRun(opts.retval, out.raw[: opts.data_size_out], opts.duration)
