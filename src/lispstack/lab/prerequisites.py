"""What a lab needs from the machine, said exactly when it is missing."""

from __future__ import annotations

import os
import shutil

from lispstack.lab.runner import lispstack_argv

TOOLS = {
    "ip": "iproute2",
    "ping": "iputils-ping",
    "dumpcap": "wireshark-common (or tshark)",
    "mergecap": "wireshark-common (or tshark)",
    "tshark": "tshark",
    "nft": "nftables",
}


def missing(command: str, tools: tuple[str, ...]) -> str | None:
    """Why `lispstack COMMAND` cannot run here, or None."""
    if os.geteuid() != 0:
        return (
            f"{command} needs root: it creates network namespaces and veth links "
            "(CAP_SYS_ADMIN, CAP_NET_ADMIN), TUN devices in them (/dev/net/tun), and writes "
            f"its state and logs under /run/lispstack/lab; run it as root, e.g. "
            f"sudo {' '.join(lispstack_argv())} {command} ..."
        )
    absent = [tool for tool in tools if shutil.which(tool) is None]
    if absent:
        packages = sorted({TOOLS[tool] for tool in absent})
        return (
            f"{command} needs {', '.join(absent)} on PATH "
            f"(apt-get install {' '.join(p.split()[0] for p in packages)})"
        )
    return None
