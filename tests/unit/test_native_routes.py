"""The xTR table's desired state: base routes, throws, coalescing (no root, no kernel)."""

from __future__ import annotations

import contextlib
import threading

from lispstack.io.native_routes import DesiredRoutes, RouteState, RouteWorker

THROW, TUN, ABSENT = RouteState.THROW, RouteState.TUN, RouteState.ABSENT


def test_a_throw_for_the_default_prefix_overrides_the_base_route_and_its_removal_restores_it() -> (
    None
):
    desired = DesiredRoutes({4, 6})
    desired.add_native("0.0.0.0/0")
    assert desired.take() == [("0.0.0.0/0", THROW)]
    desired.remove_native("0.0.0.0/0")
    assert desired.take() == [("0.0.0.0/0", TUN)]
    desired.add_native("::/0")
    desired.remove_native("::/0")
    assert desired.take() == []  # never applied: the base route is still there


def test_without_a_base_route_removing_the_default_throw_leaves_nothing() -> None:
    desired = DesiredRoutes({6})
    desired.add_native("0.0.0.0/0")
    desired.take()
    desired.remove_native("0.0.0.0/0")
    assert desired.take() == [("0.0.0.0/0", ABSENT)]


def test_a_prefix_added_then_removed_before_the_worker_looks_costs_nothing() -> None:
    desired = DesiredRoutes({4})
    for index in range(1000):
        desired.add_native(f"10.{index // 256}.{index % 256}.0/24")
    for index in range(1000):
        desired.remove_native(f"10.{index // 256}.{index % 256}.0/24")
    assert desired.take(limit=5000) == []
    assert desired.pending() == 0


def test_the_latest_state_wins_and_pending_is_bounded_by_distinct_prefixes() -> None:
    desired = DesiredRoutes({4})
    for _ in range(10_000):
        desired.add_native("10.0.0.0/8")
        desired.remove_native("10.0.0.0/8")
        desired.add_native("10.0.0.0/8")
        desired.add_native("172.16.0.0/12")
    assert desired.pending() == 2
    assert desired.take() == [("10.0.0.0/8", THROW), ("172.16.0.0/12", THROW)]
    desired.remove_native("10.0.0.0/8")
    assert desired.take() == [("10.0.0.0/8", ABSENT)]


def test_take_hands_out_at_most_limit_changes_oldest_first() -> None:
    desired = DesiredRoutes(())
    prefixes = [f"10.0.{index}.0/24" for index in range(10)]
    for prefix in prefixes:
        desired.add_native(prefix)
    assert [p for p, _ in desired.take(limit=4)] == prefixes[:4]
    assert [p for p, _ in desired.take(limit=100)] == prefixes[4:]


def test_a_failed_change_is_tried_again_at_the_next_change_of_that_prefix() -> None:
    desired = DesiredRoutes(())
    desired.add_native("10.0.0.0/8")
    desired.take()
    desired.failed("10.0.0.0/8")
    desired.add_native("10.0.0.0/8")  # same wanted state, unknown applied state
    assert desired.take() == [("10.0.0.0/8", THROW)]


class _Routing:
    """A PolicyRouting stand-in recording `apply` batches; it blocks while `gate` is clear."""

    def __init__(self, fail: frozenset[str] = frozenset()) -> None:
        self.batches: list[list[tuple[str, str]]] = []
        self.fail = fail
        self.gate = threading.Event()
        self.entered = threading.Event()

    def session(self) -> contextlib.nullcontext[None]:
        return contextlib.nullcontext()

    def apply(
        self, sock: object, changes: list[tuple[str, str]], tun_index: int
    ) -> list[tuple[str, OSError]]:
        self.entered.set()
        self.gate.wait(10)
        self.batches.append(changes)
        return [(prefix, OSError(22, "refused")) for prefix, _ in changes if prefix in self.fail]


def _worker(routing: _Routing) -> RouteWorker:
    return RouteWorker(routing, 7, DesiredRoutes({4}))  # type: ignore[arg-type]


def test_the_worker_coalesces_what_arrives_while_it_is_busy_and_counts() -> None:
    routing = _Routing(fail=frozenset({"192.0.2.0/24"}))
    worker = _worker(routing)
    worker.add_native("10.0.0.0/8")
    assert routing.entered.wait(10)  # busy applying the first change
    for _ in range(1000):
        worker.add_native("172.16.0.0/12")
        worker.remove_native("172.16.0.0/12")
    worker.add_native("0.0.0.0/0")
    worker.add_native("192.0.2.0/24")
    routing.gate.set()
    counted: dict[str, int] = {}

    def done() -> bool:
        worker.report(lambda name, amount: counted.__setitem__(name, counted.get(name, 0) + amount))
        return counted.get("routes.applied", 0) + counted.get("routes.failed", 0) >= 3

    while not done():
        threading.Event().wait(0.01)
    worker.stop()
    assert routing.batches == [
        [("10.0.0.0/8", "throw")],
        [("0.0.0.0/0", "throw"), ("192.0.2.0/24", "throw")],
    ]
    assert counted == {"routes.applied": 2, "routes.failed": 1}


def test_stopping_does_not_wait_for_the_pending_changes() -> None:
    routing = _Routing()
    worker = _worker(routing)
    worker.add_native("10.0.0.0/8")
    assert routing.entered.wait(10)  # the first batch is in progress
    for index in range(1000):
        worker.add_native(f"10.0.{index // 256}.{index % 256}/32")
    stopper = threading.Thread(target=worker.stop)
    stopper.start()
    while not worker._stopping:  # stop() has been asked, the worker is still busy
        threading.Event().wait(0.01)
    routing.gate.set()  # lets the batch in progress finish
    stopper.join(10)
    assert not stopper.is_alive()
    assert routing.batches == [[("10.0.0.0/8", "throw")]]  # the 1000 others were dropped
