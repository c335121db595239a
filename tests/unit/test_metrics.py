"""Metric names and the exposition of a node's reading, parsed back with Prometheus's parser."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lispstack.io.metrics import Reading, counter_metric, exposition


@pytest.mark.parametrize(
    ("counter", "metric"),
    [
        ("in.map-request", ("lispstack_received", (("type", "map-request"),))),
        ("in.map-notify.accepted", ("lispstack_received", (("type", "map-notify.accepted"),))),
        ("out.map-reply", ("lispstack_sent", (("type", "map-reply"),))),
        ("drop.bad-auth", ("lispstack_dropped", (("reason", "bad-auth"),))),
        ("reply.negative-no-site", ("lispstack_map_replies", (("kind", "negative-no-site"),))),
        ("registrations.expired", ("lispstack_registration_events", (("event", "expired"),))),
        (
            "iid.100.encapsulated",
            ("lispstack_instance_packets", (("event", "encapsulated"), ("iid", "100"))),
        ),
        ("map-cache.miss", ("lispstack_map_cache_miss", ())),
        ("internal-error", ("lispstack_internal_error", ())),
    ],
)
def test_counter_names(counter: str, metric: tuple[str, tuple[tuple[str, str], ...]]) -> None:
    assert counter_metric(counter) == metric


def test_every_counter_and_gauge_is_exposed() -> None:
    counters = {
        "in.map-request": 7,
        "in.malformed": 1,
        "drop.malformed": 1,
        "out.map-reply": 7,
        "internal-error": 2,
        "iid.100.decapsulated": 5,
        "iid.200.decapsulated": 6,
        "iid.200.dropped": 1,
    }
    gauges = {"registrations": 3, "iid-map-cache-entries.100": 4, "iid-map-cache-entries.200": 2}
    text = exposition("ms", ["map-server", "map-resolver"], Reading(counters, gauges)).decode()
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert samples[("lispstack_received_total", (("type", "map-request"),))] == 7
    assert samples[("lispstack_received_total", (("type", "malformed"),))] == 1
    assert samples[("lispstack_dropped_total", (("reason", "malformed"),))] == 1
    assert samples[("lispstack_sent_total", (("type", "map-reply"),))] == 7
    assert samples[("lispstack_internal_error_total", ())] == 2
    assert samples[("lispstack_registrations", ())] == 3
    instance = "lispstack_instance_packets_total"
    assert samples[(instance, (("event", "decapsulated"), ("iid", "100")))] == 5
    assert samples[(instance, (("event", "decapsulated"), ("iid", "200")))] == 6
    assert samples[(instance, (("event", "dropped"), ("iid", "200")))] == 1
    assert samples[("lispstack_instance_map_cache_entries", (("iid", "100"),))] == 4
    assert samples[("lispstack_instance_map_cache_entries", (("iid", "200"),))] == 2
    info = (("node", "ms"), ("roles", "map-server,map-resolver"))
    assert samples[("lispstack_node_info", info)] == 1
    for role in ("map-server", "map-resolver"):
        assert samples[("lispstack_role_info", (("node", "ms"), ("role", role)))] == 1
    assert any(name == "process_cpu_seconds_total" for name, _ in samples)
