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
                netns.ip("link", "add", interface, "type", "dummy", namespace=namespace)
                netns.ip("link", "set", interface, "up", namespace=namespace)
                existing.add(interface)
            netns.add_address(namespace, interface, cidr)
        for prefix, hop in node.routes:
            netns.add_route(namespace, prefix, hop)
        if node.forwarding:
            netns.sysctl(namespace, "net.ipv4.ip_forward", "1")
            netns.sysctl(namespace, "net.ipv6.conf.all.forwarding", "1")


def namespaces_of(lab: str) -> list[str]:
    """Every namespace named LAB-..., made by this lab (lab names hold no '-')."""
    listing = netns.ip("netns", "list")
    return [
        line.split()[0]
        for line in listing.splitlines()
        if line and line.split()[0].startswith(f"{lab}-")
    ]
