"""TUN devices: the ITR reads EID-sourced packets from one, the ETR writes decapsulated ones.

Opened through /dev/net/tun with IFF_TUN | IFF_NO_PI: every read or write is
one whole IP packet, no extra header. The file descriptor is non-blocking,
ready for `loop.add_reader`.
"""

from __future__ import annotations

import fcntl
import os
import struct

from pyroute2 import IPRoute

_TUNSETIFF = 0x400454CA
_IFF_TUN = 0x0001
_IFF_NO_PI = 0x1000
MAX_PACKET = 65535


class TunError(OSError):
    """The TUN device could not be created or configured."""


class TunDevice:
    __slots__ = ("_buffer", "_fd", "_view", "name")

    def __init__(self, fd: int, name: str) -> None:
        self._fd = fd
        self.name = name
        self._buffer = bytearray(MAX_PACKET)
        self._view = memoryview(self._buffer)

    @classmethod
    def open(cls, name: str, mtu: int) -> TunDevice:
        try:
            fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as error:
            raise TunError(f"cannot open /dev/net/tun: {error.strerror}") from None
        try:
            request = struct.pack("16sH", name.encode(), _IFF_TUN | _IFF_NO_PI)
            answer = fcntl.ioctl(fd, _TUNSETIFF, request)
            device = cls(fd, answer[:16].rstrip(b"\0").decode())
            _quiet_sysctls(device.name)
            with IPRoute() as ipr:
                index = ipr.link_lookup(ifname=device.name)[0]
                ipr.link("set", index=index, mtu=mtu, state="up")
        except OSError as error:
            os.close(fd)
            raise TunError(f"cannot create TUN device {name}: {error.strerror or error}") from None
        return device

    def fileno(self) -> int:
        return self._fd

    @property
    def index(self) -> int:
        with IPRoute() as ipr:
            found: list[int] = ipr.link_lookup(ifname=self.name)
        return found[0]

    def read(self) -> bytes | None:
        """One packet, or None when there is none. Read into one buffer kept for the
        device: os.read(fd, 65535) would allocate 64 KiB for each packet and shrink it."""
        try:
            length = os.readv(self._fd, (self._buffer,))
        except BlockingIOError:
            return None
        return self._view[:length].tobytes()

    def write(self, packet: bytes) -> None:
        os.write(self._fd, packet)

    def close(self) -> None:
        """Close the descriptor; the kernel removes the (non-persistent) device."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _quiet_sysctls(name: str) -> None:
    """No reverse-path filter (decapsulated packets come from EIDs routed elsewhere) and
    no IPv6 link-local address (whose neighbour discovery would fill the ITR's input)."""
    for path, value in (
        (f"/proc/sys/net/ipv4/conf/{name}/rp_filter", "0"),
        (f"/proc/sys/net/ipv6/conf/{name}/addr_gen_mode", "1"),
    ):
        if os.path.exists(path):
            with open(path, "w", encoding="ascii") as sysctl:
                sysctl.write(value)
