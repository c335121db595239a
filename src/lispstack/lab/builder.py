"""Build a topology's network: namespaces, veth links, dummy interfaces, addresses, routes."""

from __future__ import annotations

from lispstack.lab import netns
from lispstack.lab.state import LabFiles
from lispstack.lab.topology import Topology


def build(files: LabFiles, topology: Topology) -> None:
    """Make every namespace and link; the caller removes them all if this raises."""
    for node in topology.nodes:
        netns.create(files.namespace(node.name))
    for link in topology.links:
        netns.veth(
            files.namespace(link.a.node),
            link.a.interface,
            link.a.cidr,
            files.namespace(link.b.node),
            link.b.interface,
            link.b.cidr,
        )
    for node in topology.nodes:
        namespace = files.namespace(node.name)
        existing = {"lo"} | topology.link_interfaces(node.name)
        for interface, cidr in node.addresses:
            if interface not in existing:
                existing.add(interface)
                if not _dummy(namespace, interface):
                    # no dummy interfaces in this kernel: the address goes on lo (labelled)
                    label = () if ":" in cidr else ("label", f"lo:{interface}"[:15])
                    netns.ip("addr", "add", cidr, "dev", "lo", *label, namespace=namespace)
                    continue
            netns.add_address(namespace, interface, cidr)
        for prefix, hop in node.routes:
            netns.add_route(namespace, prefix, hop)
        if node.forwarding:
            netns.sysctl(namespace, "net.ipv4.ip_forward", "1")
            netns.sysctl(namespace, "net.ipv6.conf.all.forwarding", "1")
        if node.masquerade is not None:
            _masquerade(namespace, node.masquerade)


def _masquerade(namespace: str, interface: str) -> None:
    """Source NAT (Linux masquerade, nftables) of what leaves `interface`."""
    netns.run_in(namespace, ["nft", MASQUERADE.format(interface=interface)], check=True)


MASQUERADE = (
    "add table ip lab_nat; "
    "add chain ip lab_nat postrouting {{ type nat hook postrouting priority srcnat; "
    "policy accept; }}; "
    'add rule ip lab_nat postrouting oifname "{interface}" masquerade'
)


def _dummy(namespace: str, interface: str) -> bool:
    """Make a dummy interface; False when the kernel has none (module `dummy` missing)."""
    try:
        netns.ip("link", "add", interface, "type", "dummy", namespace=namespace)
    except netns.NetnsError as error:
        if "Unknown device type" in str(error):
            return False
        raise
    netns.ip("link", "set", interface, "up", namespace=namespace)
    return True


def namespaces_of(lab: str) -> list[str]:
    """Every namespace named LAB-..., made by this lab (lab names hold no '-')."""
    listing = netns.ip("netns", "list")
    return [
        line.split()[0]
        for line in listing.splitlines()
        if line and line.split()[0].startswith(f"{lab}-")
    ]
