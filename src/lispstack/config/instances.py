"""Checks of `[[instances]]` against each other and the database-mappings they serve."""

from __future__ import annotations

from collections.abc import Sequence

from lispstack.config.model import DatabaseMapping, Instance
from lispstack.config.prefix import ConfigPrefix
from lispstack.config.sections import unique
from lispstack.config.table import Table, join


def check_instances(
    root: Table,
    instances: Sequence[Instance],
    mappings: Sequence[DatabaseMapping],
    pitr_prefixes: Sequence[ConfigPrefix] = (),
) -> None:
    """Refuse what cannot work: an instance-id with two domains, two instances sharing a
    table, device or interface, and a non-zero instance-id EID prefix (a database
    mapping's, or one a PITR attracts) with no domain."""
    unique(root, "instances", instances, lambda i: i.iid, "instance-id", field="iid")
    unique(root, "instances", instances, lambda i: i.table, "table", field="table")
    unique(root, "instances", instances, lambda i: i.device, "device", field="device")
    owner: dict[str, int] = {}
    for index, instance in enumerate(instances):
        for position, interface in enumerate(instance.interfaces):
            if interface in owner:
                raise root.child_error(
                    join(join(join("instances", index), "interfaces"), position),
                    f"interface {interface} already belongs to instance-id {owner[interface]}",
                )
            owner[interface] = instance.iid
    served = {instance.iid for instance in instances}
    placed = [
        (join(join("database-mappings", index), "eid-prefix"), mapping.eid_prefix.iid)
        for index, mapping in enumerate(mappings)
    ] + [(join(join("pitr", "eid-prefixes"), i), p.iid) for i, p in enumerate(pitr_prefixes)]
    for path, iid in placed:
        if iid != 0 and iid not in served:
            raise root.child_error(
                path,
                f"instance-id {iid} has no routing domain (add [[instances]] with iid = {iid},"
                " its interfaces and a table)",
            )
