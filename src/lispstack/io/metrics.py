"""Prometheus metrics (`[node] metrics = "ADDRESS:PORT"`), served from the node's event loop.

prometheus_client (the Prometheus project's own Python client) writes the text
exposition; the numbers are read at scrape time, nothing is counted twice
per packet. A scrape asks the node as `show statistics` does (with workers,
worker 0 sums every worker's counters over their socket pairs), so the two
always agree. Names are stable:

    in.TYPE              lispstack_received_total{type="TYPE"}
    out.TYPE             lispstack_sent_total{type="TYPE"}
    drop.REASON          lispstack_dropped_total{reason="REASON"}
    reply.KIND           lispstack_map_replies_total{kind="KIND"}
    registrations.EVENT  lispstack_registration_events_total{event="EVENT"}
    iid.IID.EVENT        lispstack_instance_packets_total{iid="IID", event="EVENT"}
                         (data packets of an instance-id the node serves:
                         encapsulated, decapsulated, dropped)
    any other counter    lispstack_<name, '.' and '-' as '_'>_total
                         (e.g. map-cache.miss: lispstack_map_cache_miss_total)

Gauges (worker 0's: registrations are replicated to every worker):
lispstack_registrations, lispstack_map_cache_entries,
lispstack_instance_map_cache_entries{iid}, lispstack_pending_map_requests,
lispstack_rlocs_reachable, lispstack_rlocs_unreachable (RLOC probing),
lispstack_nat_entries (RTR), for the roles that have them;
lispstack_node_info{node, roles} = 1; and the process_* metrics of worker 0.

Roles: one lispstack_role_info{node, role} = 1 per role of the node. Counters
carry no role label: the roles of a node share one set of counters, and a
message is counted where the node receives it, before a role takes it (an
in.map-request may go to the Map-Resolver or to the ETR), so a role label would be a
guess. Select by role with a join, e.g.
`lispstack_dropped_total * on(instance) group_left lispstack_role_info{role="petr"}`.

The server is a minimal HTTP/1.0 responder on asyncio (GET /metrics; one
request per connection): no thread touches the node's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from lispstack.config.model import ListenAddress

PREFIX = "lispstack"
LABELLED = {
    "in": ("received", "type", "messages received, by message type"),
    "out": ("sent", "type", "datagrams and messages sent, by type"),
    "drop": ("dropped", "reason", "datagrams and packets dropped, by reason"),
    "reply": ("map_replies", "kind", "Map-Replies sent, by kind"),
    "registrations": ("registration_events", "event", "registration changes, by event"),
}
"""Counter prefix -> (metric name, label, help)."""
INSTANCE_PACKETS = ("instance_packets", "data packets of an instance-id, by event")
"""Counters iid.IID.EVENT -> (metric name, help); labels iid and event."""
GAUGES = {
    "registrations": "registrations held (Map-Server)",
    "map-cache-entries": "map-cache entries (ITR, PITR)",
    "pending-map-requests": "Map-Requests waiting for a Map-Reply (ITR, PITR)",
    "rlocs-reachable": "probed RLOCs of cached mappings that answer (ITR, PITR)",
    "rlocs-unreachable": "probed RLOCs of cached mappings marked unreachable (ITR, PITR)",
    "referral-cache-entries": "referral-cache entries (DDT Map-Resolver)",
    "pending-ddt-requests": "Map-Requests walking LISP-DDT referrals (DDT Map-Resolver)",
    "delegations": "delegations configured (DDT node)",
    "nat-entries": "xTRs behind a NAT in the NAT table (RTR)",
}
LABELLED_GAUGES = {
    "iid-map-cache-entries": (
        "instance_map_cache_entries",
        "iid",
        "map-cache entries by instance-id",
    ),
}
"""Gauge prefix (before ".VALUE") -> (metric name, label, help)."""
MAX_REQUEST_BYTES = 8192
REQUEST_TIMEOUT_S = 5.0
_NOT_NAME = re.compile(r"[^a-zA-Z0-9_]")


def metric_name(text: str) -> str:
    return f"{PREFIX}_{_NOT_NAME.sub('_', text)}"


Labels = tuple[tuple[str, str], ...]


def counter_metric(counter: str) -> tuple[str, Labels]:
    """(metric name without _total, (label name, value) pairs sorted by name) of a counter."""
    head, dot, rest = counter.partition(".")
    if dot and head in LABELLED:
        name, label, _ = LABELLED[head]
        return metric_name(name), ((label, rest),)
    iid, dot, event = rest.partition(".")
    if head == "iid" and dot and iid.isdigit():
        return metric_name(INSTANCE_PACKETS[0]), (("event", event), ("iid", iid))
    return metric_name(counter), ()


def _documentation(counter: str, labels: Labels) -> str:
    head = counter.partition(".")[0]
    if not labels:
        return f"counter {counter}"
    return LABELLED[head][2] if head in LABELLED else INSTANCE_PACKETS[1]


@dataclass(frozen=True, slots=True)
class Reading:
    """What one scrape reads from the node."""

    counters: Mapping[str, int]
    gauges: Mapping[str, int]


class NodeCollector(Collector):
    """The metric families of one Reading."""

    def __init__(self, node: str, roles: Iterable[str], reading: Reading) -> None:
        self._node = node
        self._roles = tuple(roles)
        self._reading = reading

    def collect(self) -> Iterable[Metric]:
        families: dict[str, CounterMetricFamily] = {}
        for counter, value in self._reading.counters.items():
            name, labels = counter_metric(counter)
            family = families.get(name)
            if family is None:
                family = CounterMetricFamily(
                    name, _documentation(counter, labels), labels=[n for n, _ in labels]
                )
                families[name] = family
            family.add_metric([v for _, v in labels], value)
        yield from families.values()
        labelled: dict[str, GaugeMetricFamily] = {}
        for gauge, value in sorted(self._reading.gauges.items()):
            head, dot, label_value = gauge.partition(".")
            if not (dot and head in LABELLED_GAUGES):
                yield GaugeMetricFamily(metric_name(gauge), GAUGES.get(gauge, gauge), value=value)
                continue
            name, label, documentation = LABELLED_GAUGES[head]
            if name not in labelled:
                labelled[name] = GaugeMetricFamily(metric_name(name), documentation, labels=[label])
            labelled[name].add_metric([label_value], value)
        yield from labelled.values()
        info = GaugeMetricFamily(
            metric_name("node_info"), "the node's name and roles", labels=["node", "roles"]
        )
        info.add_metric([self._node, ",".join(self._roles)], 1)
        yield info
        roles = GaugeMetricFamily(
            metric_name("role_info"), "one per role of the node", labels=["node", "role"]
        )
        for role in self._roles:
            roles.add_metric([self._node, role], 1)
        yield roles


def exposition(node: str, roles: Iterable[str], reading: Reading) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NodeCollector(node, roles, reading))
    ProcessCollector(registry=registry)
    return generate_latest(registry)


class MetricsServer:
    """Serves GET /metrics on `listen` from the running event loop."""

    def __init__(
        self,
        listen: ListenAddress,
        node: str,
        roles: Iterable[str],
        read: Callable[[], Awaitable[Reading]],
    ) -> None:
        self.listen = listen
        self._node = node
        self._roles = tuple(roles)
        self._read = read
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen, or raise OSError with one line naming the address."""
        try:
            self._server = await asyncio.start_server(
                self._serve,
                str(self.listen.address),
                self.listen.port,
                limit=MAX_REQUEST_BYTES,
                reuse_address=True,
            )
        except OSError as error:  # asyncio's text repeats the address: say it once
            why = os.strerror(error.errno) if error.errno else str(error)
            raise OSError(error.errno, f"metrics {self.listen}: cannot listen: {why}") from None

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT_S)
            writer.write(await self._respond(head.split(b"\r\n", 1)[0]))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _respond(self, request_line: bytes) -> bytes:
        parts = request_line.split()
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
            return _response(400, "Bad Request", b"bad request\n")
        method, target = parts[0], parts[1].split(b"?", 1)[0]
        if method != b"GET":
            return _response(405, "Method Not Allowed", b"GET /metrics\n")
        if target not in (b"/metrics", b"/"):
            return _response(404, "Not Found", b"GET /metrics\n")
        body = exposition(self._node, self._roles, await self._read())
        return _response(200, "OK", body, CONTENT_TYPE_LATEST)


def _response(
    status: int, reason: str, body: bytes, content_type: str = "text/plain; charset=utf-8"
) -> bytes:
    head = (
        f"HTTP/1.0 {status} {reason}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body
