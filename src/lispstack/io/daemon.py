"""The node daemon: asyncio sockets around the sans-I/O Node.

Datagrams from the UDP sockets (4342 control, 4341 data) become
DatagramReceived inputs; the node's actions are carried out in order; one
timer (`loop.call_at`) tracks `node.next_deadline()`. Nothing a handler
raises stops the loop: it is counted as "internal-error", logged (the first
traceback in full, then a count per interval), and the node keeps serving.
Traces of per-message events are logged at DEBUG, state changes at INFO.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import NoReturn, TypeVar

from lispstack.config import ConfigError, load_config
from lispstack.config.model import NodeConfig, NodeRole
from lispstack.config.reload_changes import describe_changes, fixed_change
from lispstack.config.render import render_config
from lispstack.core.build import build_node
from lispstack.core.drops import LOG_INTERVAL_S
from lispstack.core.events import (
    CONTROL_PORT,
    DATA_PORT,
    PER_MESSAGE_EVENTS,
    Action,
    DatagramReceived,
    Endpoint,
    ForwardNatively,
    Input,
    InstallNativeRoute,
    IPAddress,
    LocalRlocsChanged,
    RemoveNativeRoute,
    ReplicateRegister,
    SendDatagram,
    TimerFired,
    Trace,
    WriteToTun,
)
from lispstack.core.itr import Itr
from lispstack.core.node import Node
from lispstack.io.control_socket import ControlServer, RequestRefused, remove_stale
from lispstack.io.dataplane import DataPlane
from lispstack.io.instance_lock import InstanceLock
from lispstack.io.lig import local_address_towards
from lispstack.io.log_format import event_extra
from lispstack.io.metrics import MetricsServer, Reading
from lispstack.io.randomness import BatchedSystemRandom
from lispstack.io.rloc_watch import LocalRlocWatch
from lispstack.io.sd_notify import notify
from lispstack.io.tun import TunDevice
from lispstack.io.workers import WorkerLink, die_with_parent, link_workers, stop_children
from lispstack.mapping.address_cache import AddressCache

_Answer = TypeVar("_Answer")
DDT_ECM = b"\x84"
"""The first byte of an ECM with the D bit (RFC 8111 section 5): a DDT Map-Resolver's."""

log = logging.getLogger("lispstack.daemon")
RECEIVE_BUFFER_BYTES = 4 << 20  # room for bursts of Map-Requests
DRAIN_BATCH = 256
TUN_BATCH = 64
ENDPOINTS_KEPT = 65536
GC_THRESHOLDS = (50_000, 20, 100)
KERNEL_SWEEP_S = 1.0
"""How often the eBPF engine tells the ITR which map-cache entries the kernel used."""
"""The cyclic garbage collector's generation thresholds in a node (CPython's are 700,
10, 10). A Map-Server keeps about ten long-lived objects per registration and
allocates a few dozen short-lived ones per message; at 200,000 registrations the
default thresholds spent 10-20 µs of every Map-Register in the collector. Almost
nothing a node allocates is cyclic (reference counting frees it), so collecting
less often costs little memory."""
_DATA_ROLES = (NodeRole.ITR, NodeRole.ETR, NodeRole.PITR, NodeRole.PETR, NodeRole.RTR)


def bind_sockets(
    config: NodeConfig, *, reuse_port: bool = False, listen: tuple[IPAddress, ...] = ()
) -> list[tuple[socket.socket, Endpoint]]:
    """The node's UDP sockets (4342, and 4341 for data roles) on `listen`, by default
    its listen addresses.

    Raises OSError naming the address it cannot bind. Without listen
    addresses, a host without IPv6 gets only the IPv4 sockets (and a warning).
    """
    ports = [CONTROL_PORT]
    if any(config.has_role(role) for role in _DATA_ROLES):
        ports.append(DATA_PORT)
    wildcard = not (listen or config.node.listen)
    addresses = listen or config.node.listen or (IPv4Address("0.0.0.0"), IPv6Address("::"))
    bound: list[tuple[socket.socket, Endpoint]] = []
    try:
        for address in addresses:
            for port in ports:
                sock = _bind(address, port, reuse_port, wildcard)
                if sock is not None:
                    bound.append((sock, Endpoint(address, port)))
    except OSError:
        for sock, _ in bound:
            sock.close()
        raise
    return bound


def _bind(address: IPAddress, port: int, reuse_port: bool, wildcard: bool) -> socket.socket | None:
    family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    sock = socket.socket(family, socket.SOCK_DGRAM)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
    try:
        sock.bind((str(address), port))
    except OSError as error:
        sock.close()
        if address.version == 6 and wildcard:
            log.warning("no IPv6 on this host: %s", error)
            return None
        where = f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"
        raise OSError(error.errno, f"cannot bind {where}: {error.strerror}") from None
    sock.setblocking(False)
    return sock


class NodeDaemon:
    def __init__(
        self,
        config: NodeConfig,
        node: Node | None = None,
        data_plane: DataPlane | None = None,
        *,
        sockets: list[tuple[socket.socket, Endpoint]] | None = None,
        workers: WorkerLink | None = None,
        reread: Callable[[], NodeConfig] | None = None,
    ) -> None:
        self.config = config
        self._reread = reread or (lambda: load_config(self.config.source))
        """The configuration a reload applies: the file the node started from, read again."""
        self.node = node or build_node(config, BatchedSystemRandom())
        self._sockets: dict[tuple[int, int], socket.socket] = {}
        self._bound: list[tuple[socket.socket, Endpoint]] = sockets or []
        self._timer: asyncio.TimerHandle | None = None
        self._summaries: asyncio.TimerHandle | None = None
        self._sweeps: asyncio.TimerHandle | None = None
        self._workers = workers
        self._control = (
            ControlServer(Path(config.node.control_socket), self.answer)
            if workers is None or workers.index == 0
            else None
        )
        self._metrics = (
            MetricsServer(config.node.metrics, config.name, config.roles, self._reading)
            if config.node.metrics is not None and self._control is not None
            else None
        )
        self._stopped = asyncio.Event()
        self._data_plane = data_plane
        self._addresses = AddressCache()
        self._receive_buffer = bytearray(65535)
        """Every datagram is read into it, then copied out at its size: recvfrom(65535)
        would allocate 64 KiB for each datagram and shrink it."""
        self._receive_view = memoryview(self._receive_buffer)
        self._endpoints: dict[tuple[str, int], Endpoint] = {}
        self._errors = ErrorLog()

    # ------------------------------------------------------------ life cycle

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        if not self._bound:
            self._bound = bind_sockets(self.config)
        for sock, local in self._bound:
            loop.add_reader(sock.fileno(), self._drain, sock, local)
            self._sockets.setdefault((local.address.version, local.port), sock)
        tuns: dict[int, TunDevice] = {}
        if self._data_plane is not None and self._data_plane.tun is not None:
            tuns = {0: self._data_plane.tun, **self._data_plane.instance_tuns}
        for iid, tun in tuns.items():
            loop.add_reader(tun.fileno(), self._read_tun, tun, iid)
        if self._workers is not None:
            self._workers.start(
                self._apply_replica, self.node.counters.snapshot, self.node.counters.add
            )
            if self._workers.children:
                loop.add_signal_handler(signal.SIGCHLD, self._reap_workers)
                self._reap_workers()  # any that died before the handler was there
        if self._metrics is not None:
            await self._metrics.start()
        if self._control is not None:
            await self._control.start()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._stopped.set)
        loop.add_signal_handler(signal.SIGHUP, self._reload_on_signal)
        watch = None
        if self._data_plane is not None and self.config.database_mappings:
            watch = LocalRlocWatch(self._local_rlocs_changed, loop)
        roles = ", ".join(self.config.roles)
        log.info("node %s up: roles %s", self.config.name, roles)
        self.feed(TimerFired())  # an ETR's first Map-Registers leave here
        if self._control is not None:  # the main process (worker 0) speaks for the node
            notify("READY=1", f"STATUS=node {self.config.name} serving: roles {roles}")
        self._summaries = loop.call_later(LOG_INTERVAL_S, self._summarize)
        if self._data_plane is not None and self._data_plane.engine is not None:
            self._sweeps = loop.call_later(KERNEL_SWEEP_S, self._sweep)
        await self._stopped.wait()
        if watch is not None:
            watch.stop()
        if self._sweeps is not None:
            self._sweeps.cancel()
        if self._control is not None:
            notify("STOPPING=1", f"STATUS=node {self.config.name} stopping")
        self._summaries.cancel()
        # Deregistrations are sent by now: a UDP sendto hands the datagram to the
        # kernel before it returns, so the sockets can close at once.
        self._carry_out(self.node.shutdown(time.monotonic()))
        for sock, _ in self._bound:
            loop.remove_reader(sock.fileno())
            sock.close()
        for tun in tuns.values():
            loop.remove_reader(tun.fileno())
        if self._workers is not None:
            self._workers.close()
        if self._metrics is not None:
            await self._metrics.close()
        if self._control is not None:
            await self._control.close()
        elif self._workers is not None:  # worker 0 killed? then its socket file is left
            remove_stale(Path(self.config.node.control_socket))
        log.info("node %s stopped", self.config.name)

    def stop(self) -> None:
        self._stopped.set()

    # ------------------------------------------------------------ the node

    def feed(self, event: Input) -> None:
        self._handle(event)
        self._schedule()

    def _handle(self, event: Input) -> None:
        try:
            self._carry_out(self.node.handle(event, time.monotonic()))
        except Exception:  # a bug must not take the node down
            self._internal_error(f"handling {type(event).__name__}")

    def _drain(self, sock: socket.socket, local: Endpoint) -> None:
        """Read what the socket holds (a bounded batch), then reschedule the timer once."""
        reply_socket = self._sockets.get((4, CONTROL_PORT))
        answer_cached = self.node.answer_cached if local.port == CONTROL_PORT else None
        answer_ddt = self.node.answer_ddt_cached if local.port == CONTROL_PORT else None
        decapsulate = self.node.decapsulate_data if local.port == DATA_PORT else None
        replied = 0
        buffer, view = self._receive_buffer, self._receive_view
        for _ in range(DRAIN_BATCH):
            try:
                length, address = sock.recvfrom_into(buffer)
            except BlockingIOError:
                break
            except OSError:  # e.g. an ICMP port unreachable for an earlier reply
                self.node.counters.add("socket-errors")
                continue
            data = view[:length].tobytes()
            if answer_cached is not None and reply_socket is not None:
                cached = self._answer_from_cache(answer_cached, data, time.monotonic())
                if cached is not None:
                    replied += self._send_cached(reply_socket, *cached)
                    continue
                if answer_ddt is not None and data[:1] == DDT_ECM:
                    ddt = self._answer_from_cache(answer_ddt, data, time.monotonic())
                    if ddt is not None:
                        referral, reply, itr_rloc, port = ddt
                        replied += self._send_cached(reply_socket, reply, itr_rloc, port)
                        replied += self._send_to(sock, referral, address)
                        continue
            source = self._endpoints.get(address) or self._endpoint(address)
            if decapsulate is not None and self._deliver(decapsulate, data, source):
                continue
            self._handle(DatagramReceived(data, source, local))
        if replied:
            self.node.counters.add("out.datagrams", replied)
        self._schedule()

    def _deliver(
        self,
        decapsulate: Callable[[bytes, Endpoint, float], tuple[bytes, int] | None],
        data: bytes,
        source: Endpoint,
    ) -> bool:
        """An encapsulated packet for one of our EIDs into its TUN at once (no action
        objects): True; False when Node.handle must take it (a drop, or no data plane)."""
        if self._data_plane is None:
            return False
        try:
            delivered = decapsulate(data, source, time.monotonic())
        except Exception:  # a bug must not take the node down
            self._internal_error("handling DatagramReceived")
            return True
        if delivered is None:
            return False
        self._data_plane.write_to_tun(*delivered)
        return True

    def _endpoint(self, address: tuple[str, int]) -> Endpoint:
        """The Endpoint of a recvfrom address, kept for the next datagram from it (at most
        ENDPOINTS_KEPT, then they are forgotten all at once)."""
        if len(self._endpoints) >= ENDPOINTS_KEPT:
            self._endpoints.clear()
        endpoint = Endpoint(self._addresses.parse(address[0]), address[1])
        self._endpoints[address] = endpoint
        return endpoint

    def _answer_from_cache(
        self, answer_cached: Callable[[bytes, float], _Answer | None], data: bytes, now: float
    ) -> _Answer | None:
        try:
            return answer_cached(data, now)
        except Exception:  # a bug must not take the node down
            self._internal_error("answering from the cache")
            return None

    def _send_cached(self, sock: socket.socket, reply: bytes, itr_rloc: bytes, port: int) -> int:
        """Send a cached Map-Reply to an IPv4 ITR-RLOC: 1 if it left, else 0 (counted)."""
        return self._send_to(sock, reply, (socket.inet_ntoa(itr_rloc), port))

    def _send_to(self, sock: socket.socket, payload: bytes, address: tuple[str, int]) -> int:
        """1 if `payload` left for `address`, else 0 (counted)."""
        try:
            sock.sendto(payload, address)
        except OSError:
            self.node.counters.add("drop.send-failed")
            return 0
        return 1

    def _read_tun(self, tun: TunDevice, iid: int) -> None:
        """A batch of packets, each straight to the node, then the sockets get their turn.

        The common packet (Itr.encapsulate_ipv4) leaves as the outer packet the ITR
        built, without an action list; the others take Node.handle_tun."""
        read, handle, carry_out = tun.read, self.node.handle_tun, self._carry_out
        encapsulate = self.node.encapsulate_ipv4 if self._data_plane is not None else None
        counters = self.node.counters
        for _ in range(TUN_BATCH):
            packet = read()
            if packet is None:
                break
            try:
                now = time.monotonic()
                outer = encapsulate(packet, iid, now) if encapsulate is not None else None
                if outer is None:
                    carry_out(handle(packet, iid, now))
                elif self._data_plane is not None:
                    self._data_plane.send_ipv4(*outer)
                    counters.add("out.datagrams")
            except Exception:  # a bug must not take the node down
                self._internal_error("handling PacketFromTun")
        self._schedule()

    def _internal_error(self, what: str) -> None:
        """Called from an `except` block: count, and log what ErrorLog lets through."""
        self.node.counters.add("internal-error")
        self._errors.record(what, time.monotonic())

    def _summarize(self) -> None:
        """Every log interval: what was left out of the log (drops, internal errors)."""
        now = time.monotonic()
        summaries: list[Action] = [*self.node.drops.summary(now)]
        self._carry_out(summaries)
        self._errors.summary(now)
        if self._workers is not None and self._workers.index == 0:
            self._workers.refresh_counters()
        self._summaries = asyncio.get_running_loop().call_later(LOG_INTERVAL_S, self._summarize)

    def _schedule(self) -> None:
        """After every event (batch): the kernel's map-cache catches up, the timer is set."""
        if self._data_plane is not None:
            self._data_plane.sync()
        deadline = self.node.next_deadline()
        if self._timer is not None:
            if deadline is not None and self._timer.when() == deadline:
                return
            self._timer.cancel()
            self._timer = None
        if deadline is not None:
            loop = asyncio.get_running_loop()
            # The loop's clock is time.monotonic(), the node's clock.
            self._timer = loop.call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._kernel_used()  # probe rounds and refreshes see what the kernel carried
        self.feed(TimerFired())

    def _local_rlocs_changed(
        self, usable: frozenset[IPAddress], held: frozenset[IPAddress]
    ) -> None:
        """The watch of our RLOCs (io/rloc_watch.py): the addresses usable here changed
        (a report still queued when the node stops is dropped: it has deregistered)."""
        if self._stopped.is_set():
            return
        self.feed(LocalRlocsChanged(usable, held))
        if self._data_plane is not None:
            self._data_plane.follow_rlocs(usable)

    def _kernel_used(self) -> None:
        """What the eBPF engine encapsulated tells the ITR which entries are in use."""
        if self._data_plane is not None:
            try:
                self._carry_out(self._data_plane.kernel_used(time.monotonic()))
            except Exception:  # a bug must not take the node down
                self._internal_error("reading the kernel map-cache's use")

    def _sweep(self) -> None:
        self._kernel_used()
        self._schedule()
        self._sweeps = asyncio.get_running_loop().call_later(KERNEL_SWEEP_S, self._sweep)

    def _carry_out(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, SendDatagram):
                self._send(action)
            elif isinstance(action, ReplicateRegister):
                if self._workers is not None:
                    self._workers.replicate(action.payload, action.source)
            elif isinstance(action, Trace):
                level = logging.DEBUG if action.event in PER_MESSAGE_EVENTS else logging.INFO
                if log.isEnabledFor(level):
                    fields = " ".join(f"{k}={v}" for k, v in action.fields.items())
                    extra = event_extra(action.event, action.fields)
                    log.log(level, "%s %s", action.event, fields, extra=extra)
            elif self._data_plane is None:
                self.node.counters.add(f"drop.no-data-plane.{type(action).__name__}")
            elif isinstance(action, WriteToTun):
                self._data_plane.write_to_tun(action.packet, action.iid)
            elif isinstance(action, ForwardNatively):
                self._data_plane.forward_natively(action.packet)
            elif isinstance(action, InstallNativeRoute):
                self._data_plane.install_native_route(action.iid, action.prefix)
            elif isinstance(action, RemoveNativeRoute):
                self._data_plane.remove_native_route(action.iid, action.prefix)

    def _send(self, action: SendDatagram) -> None:
        if (
            self._data_plane is not None
            and action.source_port not in (CONTROL_PORT, DATA_PORT)
            and action.source_address is not None
        ):
            # Encapsulated data: a raw packet keeps the ITR's per-flow outer source port.
            self._data_plane.send_encapsulated(action)
            self.node.counters.add("out.datagrams")
            return
        destination = action.destination
        # Without a data plane (or a pinned source) data leaves from the 4341 socket.
        port = CONTROL_PORT if action.source_port == CONTROL_PORT else DATA_PORT
        version = destination.address.version
        sock = self._sockets.get((version, port)) or self._sockets.get((version, CONTROL_PORT))
        if sock is None:
            self.node.counters.add("drop.no-socket-for-family")
            return
        try:
            sock.sendto(
                action.payload, (self._addresses.text(destination.address), destination.port)
            )
        except OSError:
            self.node.counters.add("drop.send-failed")
            return
        self.node.counters.add("out.datagrams")

    # ------------------------------------------------------------ reload

    def reload(self) -> list[str]:
        """Apply the configuration file as it reads now; what changed, one line each.

        Raises RequestRefused (one line) and leaves the node as it was when the
        file has an error or changes what a running node cannot (see
        config/reload_changes.py). Worker 0 then has the other workers reload.
        """
        try:
            new = self._reread()
        except ConfigError as error:
            raise RequestRefused(f"reload refused: {error}") from None
        refusal = fixed_change(self.config, new)
        if refusal is not None:
            raise RequestRefused(f"reload refused: {new.source}: {refusal}")
        changes = describe_changes(self.config, new)
        speaking = self._control is not None
        if speaking:
            notify("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")
        try:
            self._carry_out(self.node.reconfigure(new, time.monotonic()))
            if self._data_plane is not None:
                self._data_plane.reconfigure(self.config, new)
        except Exception:  # a bug must not take the node down
            self._internal_error("reloading")
        self.config = new
        logging.getLogger().setLevel(new.node.log_level.upper())
        self._schedule()
        if self._workers is not None:
            for pid in self._workers.children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGHUP)
        if speaking:
            notify("READY=1", f"STATUS=node {new.name} serving, reloaded")
        log.info("reloaded %s: %s", new.source, "; ".join(changes) or "no change")
        return changes

    def _reload_on_signal(self) -> None:
        try:
            self.reload()
        except RequestRefused as refused:
            log.error("%s", refused)

    def answer(self, topic: str, arg: str | None) -> object | None:
        if topic == "statistics":
            return self.statistics()
        if topic == "reload":
            return self.reload()
        if topic == "config":  # as running: with the command line's overrides
            return render_config(self.config)
        answer = self.node.show(topic, arg, time.monotonic())
        if topic == "forwarding" and isinstance(answer, dict) and self._data_plane is not None:
            answer["plane"] = self._data_plane.plane_for(answer)
        return answer

    async def statistics(self) -> dict[str, int]:
        """The node's counters (`show statistics`, metrics): every worker's, summed."""
        if self._data_plane is not None:
            self._data_plane.report(self.node.counters.add)
        if self._workers is not None:
            return await self._workers.statistics(self.node.counters.snapshot())
        return self.node.counters.snapshot()

    async def _reading(self) -> Reading:
        return Reading(await self.statistics(), self.node.gauges())

    def _reap_workers(self) -> None:
        assert self._workers is not None
        for index, pid, status in self._workers.reap():
            code = os.waitstatus_to_exitcode(status)
            if self._stopped.is_set():  # stopping together (e.g. Ctrl-C reached them all)
                log.info("worker %d (pid %d) stopped with status %d", index, pid, code)
                continue
            self.node.counters.add("workers.exited")
            log.error(
                "worker %d (pid %d) exited with status %d; the other workers take its share",
                index,
                pid,
                code,
            )

    def _apply_replica(self, payload: bytes, source: Endpoint) -> None:
        """A Map-Register another worker accepted: the same registrations here."""
        if self.node.apply_replica is None or not self._bound:
            return
        local = self._bound[0][1]
        try:
            self.node.apply_replica(DatagramReceived(payload, source, local), time.monotonic())
        except Exception:  # a bug must not take the node down
            self._internal_error("applying a replicated Map-Register")
        self._schedule()


class ErrorLog:
    """Internal-error tracebacks, rate-limited: the first in full, then, once per
    interval, a count of those left out since."""

    def __init__(self, interval: float = LOG_INTERVAL_S) -> None:
        self._interval = interval
        self._logged_at: float | None = None
        self._left_out: dict[str, int] = {}

    def record(self, what: str, now: float) -> None:
        """Call from an `except` block (the first one logs its traceback)."""
        if self._logged_at is None:
            self._logged_at = now
            log.exception(
                "internal error %s (later ones: a count every %d s, counter internal-error)",
                what,
                self._interval,
            )
            return
        self._left_out[what] = self._left_out.get(what, 0) + 1
        self.summary(now)

    def summary(self, now: float) -> None:
        if not self._left_out or self._logged_at is None or now - self._logged_at < self._interval:
            return
        self._logged_at = now
        for what, count in self._left_out.items():
            log.error("internal error %s: %d more since the last report", what, count)
        self._left_out.clear()


def run_daemon(config: NodeConfig, reread: Callable[[], NodeConfig] | None = None) -> None:
    """Run the node until SIGINT/SIGTERM; OSError (one line) if it cannot start, e.g.
    while another process runs it (its lock is taken before any socket is bound).
    `reread` gives the configuration a reload applies (default: the file read again)."""
    gc.set_threshold(*GC_THRESHOLDS)
    with InstanceLock(Path(config.node.control_socket), config.name):
        if config.node.workers > 1:
            run_workers(config, reread)
        else:
            _run_single(config, reread)


def _run_single(config: NodeConfig, reread: Callable[[], NodeConfig] | None = None) -> None:
    proxy_rlocs = []
    if (config.has_role(NodeRole.PITR) or config.has_role(NodeRole.RTR)) and config.map_resolvers:
        proxy_rlocs.append(local_address_towards(config.map_resolvers[0].address))
    node = build_node(config, BatchedSystemRandom(), proxy_rlocs)
    data_plane = None
    if any(config.has_role(role) for role in _DATA_ROLES):
        itr = next((role for role in node.roles if isinstance(role, Itr)), None)
        data_plane = DataPlane(config, node.counters.add, itr)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(NodeDaemon(config, node, data_plane, reread=reread).run())
    finally:
        if data_plane is not None:
            data_plane.close()


def run_workers(config: NodeConfig, reread: Callable[[], NodeConfig] | None = None) -> None:
    """Worker 0 here; the others forked, each with its own sockets (see io/workers.py)."""
    count, parent = config.node.workers, os.getpid()
    first = bind_sockets(config, reuse_port=True)
    # The others on what the first bound (a host without IPv6 is reported once).
    listen = tuple(local.address for _, local in first if local.port == CONTROL_PORT)
    sockets = [first] + [
        bind_sockets(config, reuse_port=True, listen=listen) for _ in range(count - 1)
    ]
    links = link_workers(count)
    children = []
    for index in range(1, count):
        pid = os.fork()
        if pid == 0:
            _run_worker(config, sockets, links, index, parent, reread)
        children.append(pid)
        links[0].children[pid] = index
    _close_others(sockets, links, 0)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            daemon = NodeDaemon(config, sockets=sockets[0], workers=links[0], reread=reread)
            asyncio.run(daemon.run())
    finally:
        stop_children(children)


def _run_worker(
    config: NodeConfig,
    sockets: list[list[tuple[socket.socket, Endpoint]]],
    links: list[WorkerLink],
    index: int,
    parent: int,
    reread: Callable[[], NodeConfig] | None,
) -> NoReturn:
    """A forked worker's whole life: it never returns into the code that forked it.

    Worker 0 forwards a reload as SIGHUP; until the worker's loop handles it,
    it is ignored (its default would end the worker)."""
    code = 1
    try:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        die_with_parent(parent)
        _close_others(sockets, links, index)
        daemon = NodeDaemon(config, sockets=sockets[index], workers=links[index], reread=reread)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(daemon.run())
        code = 0
    except BaseException:
        log.exception("worker %d failed", index)
    finally:
        os._exit(code)


def _close_others(
    sockets: list[list[tuple[socket.socket, Endpoint]]], links: list[WorkerLink], keep: int
) -> None:
    """Close the sockets of the other workers: a copy left open would take its share of
    the datagrams and never read them once its worker is gone."""
    for index, (bound, link) in enumerate(zip(sockets, links, strict=True)):
        if index != keep:
            for sock, _ in bound:
                sock.close()
            link.close_unused()
