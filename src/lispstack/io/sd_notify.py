"""systemd's readiness protocol (sd_notify(3)) with the standard library.

Under a `Type=notify` unit systemd sets $NOTIFY_SOCKET to a unix datagram
socket (a path, or an abstract name written with a leading '@'); the service
sends it newline-separated `KEY=VALUE` assignments: READY=1, STATUS=...,
STOPPING=1. Without $NOTIFY_SOCKET (not run by systemd) nothing is sent.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger("lispstack.sd_notify")
ENVIRONMENT = "NOTIFY_SOCKET"


def notify(*assignments: str) -> bool:
    """Send `assignments` (e.g. "READY=1", "STATUS=serving") to systemd; whether they left.

    A socket that cannot be reached is logged (a warning), never raised: the
    node serves either way.
    """
    address = os.environ.get(ENVIRONMENT)
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall("\n".join(assignments).encode())
    except OSError as error:
        log.warning("cannot notify systemd on %s: %s", os.environ[ENVIRONMENT], error)
        return False
    return True
