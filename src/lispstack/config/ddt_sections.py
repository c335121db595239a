"""The LISP-DDT node's tables: `[[ddt-prefixes]]` and `[[delegations]]` (keys: see model.py)."""

from __future__ import annotations

from collections.abc import Sequence

from lispstack.config.model import DdtRoot, Delegation, DelegationChild, DelegationKind
from lispstack.config.prefix import ConfigPrefix, parse_prefix
from lispstack.config.sections import (
    MAX_U32,
    enum_parser,
    parse_rloc_address,
    read_priority_weight,
    unique,
)
from lispstack.config.table import Table, join

parse_delegation_kind = enum_parser(
    DelegationKind, [k.value for k in DelegationKind], "delegation kind"
)


def read_ddt_roots(root: Table) -> tuple[DdtRoot, ...]:
    roots = []
    for table in root.tables("ddt-roots"):
        roots.append(DdtRoot(address=table.parsed("address", parse_rloc_address)))
        table.done()
    unique(root, "ddt-roots", roots, lambda r: r.address, "address", field="address")
    return tuple(roots)


def read_ddt_prefix(table: Table) -> ConfigPrefix:
    prefix = table.parsed("eid-prefix", parse_prefix)
    table.done()
    return prefix


def read_delegation_child(table: Table) -> DelegationChild:
    child = DelegationChild(
        address=table.parsed("address", parse_rloc_address),
        priority=read_priority_weight(table, "priority", 1),
        weight=read_priority_weight(table, "weight", 100),
    )
    table.done()
    return child


def read_delegation(table: Table) -> Delegation:
    prefix = table.parsed("eid-prefix", parse_prefix)
    children = tuple(read_delegation_child(t) for t in table.tables("children", required=True))
    unique(table, "children", children, lambda c: c.address, "child address", field="address")
    delegation = Delegation(
        eid_prefix=prefix,
        children=children,
        kind=table.parsed("kind", parse_delegation_kind, DelegationKind.NODE),
        ttl=table.integer("ttl", low=1, high=MAX_U32, default=1440),
    )
    table.done()
    return delegation


def _inside(inner: ConfigPrefix, outer: ConfigPrefix) -> bool:
    return (
        inner.iid == outer.iid
        and inner.network.version == outer.network.version
        and inner.network.subnet_of(outer.network)  # type: ignore[arg-type]
    )


def read_ddt_tables(root: Table) -> tuple[tuple[ConfigPrefix, ...], tuple[Delegation, ...]]:
    """The authoritative prefixes and the delegations, checked against each other:
    every delegation lies inside an authoritative prefix, and inside no other delegation
    (a DDT Map-Request must find one answer)."""
    prefixes = tuple(read_ddt_prefix(t) for t in root.tables("ddt-prefixes"))
    unique(root, "ddt-prefixes", prefixes, str, "EID prefix", field="eid-prefix")
    delegations = tuple(read_delegation(t) for t in root.tables("delegations"))
    unique(
        root, "delegations", delegations, lambda d: d.eid_prefix, "EID prefix", field="eid-prefix"
    )
    for index, delegation in enumerate(delegations):
        if not any(_inside(delegation.eid_prefix, p) for p in prefixes):
            raise root.child_error(
                join(join("delegations", index), "eid-prefix"),
                f"{delegation.eid_prefix} lies inside none of [[ddt-prefixes]]",
            )
    _check_nesting(root, delegations)
    return prefixes, delegations


def _check_nesting(root: Table, delegations: Sequence[Delegation]) -> None:
    # Sorted, a prefix comes right after the prefixes covering it; prefixes either nest
    # or are disjoint, so comparing with the last outermost one seen finds every nesting.
    order = sorted(
        range(len(delegations)),
        key=lambda i: (
            delegations[i].eid_prefix.iid,
            delegations[i].eid_prefix.network.version,
            int(delegations[i].eid_prefix.network.network_address),
            delegations[i].eid_prefix.network.prefixlen,
        ),
    )
    outer: int | None = None
    for index in order:
        prefix = delegations[index].eid_prefix
        if outer is not None and _inside(prefix, delegations[outer].eid_prefix):
            raise root.child_error(
                join(join("delegations", index), "eid-prefix"),
                f"{prefix} lies inside delegation {delegations[outer].eid_prefix}"
                f" (delegations[{outer}])",
            )
        outer = index
