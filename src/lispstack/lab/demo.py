"""`lispstack demo`: the seed scenario, step by step, each step checked.

Every step runs real commands against a real lab (the built-in `seed`
topology), shows what they printed, and checks the outcome through the
nodes' JSON answers. The demo succeeds only if every check holds.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lispstack.capture import read_capture
from lispstack.cli.dissect import decode_datagram, lisp_port
from lispstack.io.control_socket import ask
from lispstack.lab.runner import Lab
from lispstack.lab.topology import builtin, load_topology

LISPSTACK = str(Path(sys.executable).parent / "lispstack")
WARNING_SEVERITY = 0x00600000


@dataclass
class Step:
    number: int
    title: str
    explanation: str
    commands: list[str] = field(default_factory=list)
    output: list[str] = field(default_factory=list)
    checks: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(ok for _, ok in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.number,
            "title": self.title,
            "explanation": self.explanation,
            "commands": self.commands,
            "output": self.output,
            "passed": self.passed,
            "checks": [{"check": text, "passed": ok} for text, ok in self.checks],
        }


class Demo:
    def __init__(self, capture: Path, emit: Callable[[str], None], pxtr: bool = False) -> None:
        self.topology = load_topology("seed-pxtr" if pxtr else "seed")
        self.lab = Lab(self.topology.name)
        self.pxtr = pxtr
        self.capture = capture
        self.emit = emit
        self.steps: list[Step] = []

    # ------------------------------------------------------------ helpers

    def _run(self, step: Step, argv: list[str]) -> subprocess.CompletedProcess[str]:
        step.commands.append(" ".join(argv).replace(LISPSTACK, "lispstack"))
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        step.output.append((result.stdout + result.stderr).rstrip())
        return result

    def _lab(self, step: Step, command: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self._run(step, [LISPSTACK, "lab", command, "--name", self.lab.name, *args])

    def _ask(self, node: str, topic: str, arg: str | None = None) -> Any:
        return ask(self.lab.socket(node), topic, arg)

    def _ping(
        self, step: Step, source: str, destination: str, count: int = 1, node: str = "lisp1"
    ) -> bool:
        result = self._lab(
            step,
            "exec",
            node,
            "--",
            "ping",
            "-n",
            "-c",
            str(count),
            "-W",
            "2",
            "-I",
            source,
            destination,
        )
        return result.returncode == 0

    def _check(self, step: Step, text: str, ok: bool) -> None:
        step.checks.append((text, ok))

    def _begin(self, title: str, explanation: str) -> Step:
        step = Step(len(self.steps) + 1, title, explanation)
        self.steps.append(step)
        return step

    def _show(self, step: Step) -> None:
        self.emit(f"\n== Step {step.number}: {step.title}")
        self.emit(step.explanation)
        for command, output in zip(step.commands, step.output, strict=True):
            self.emit(f"$ {command}")
            if output:
                self.emit("  " + output.replace("\n", "\n  "))
        for text, ok in step.checks:
            self.emit(f"  [{'ok' if ok else 'FAILED'}] {text}")

    # ------------------------------------------------------------ the story

    def run(self) -> bool:
        self.lab.up(self.topology, self.capture)
        stories = (
            (self.registrations, self.site_to_internet, self.internet_to_site)
            if self.pxtr
            else (
                self.registrations,
                self.not_eligible,
                self.negative,
                self.positive,
                self.proxy_reply,
            )
        )
        for story in stories:
            story()
            self._show(self.steps[-1])
        self.timeline()
        self._show(self.steps[-1])
        return all(step.passed for step in self.steps)

    def registrations(self) -> None:
        step = self._begin(
            "both sites are registered",
            "lisp1 and lisp2 sent authenticated Map-Registers; the Map-Server checked the key "
            "and the prefix, and answered with Map-Notifies.",
        )
        self._lab(step, "show", "mapserver", "registrations")
        registered = {r["eid"]: r["registered_by"] for r in self._ask("mapserver", "registrations")}
        self._check(
            step,
            "192.168.1.0/24 registered by 10.0.1.1",
            registered.get("192.168.1.0/24") == "10.0.1.1",
        )
        self._check(
            step,
            "192.168.2.0/24 registered by 10.0.2.2",
            registered.get("192.168.2.0/24") == "10.0.2.2",
        )

    def not_eligible(self) -> None:
        step = self._begin(
            "not LISP-eligible: ping 4.2.2.2 from the RLOC address",
            "The source 10.0.1.1 is not inside lisp1's EID prefix, so the packet is routed "
            "natively (and fails: there is no route to 4.2.2.2); no Map-Request is sent.",
        )
        self._check(step, "the ping fails", not self._ping(step, "10.0.1.1", "4.2.2.2"))
        self._lab(step, "show", "lisp1", "statistics")
        sent = self._ask("lisp1", "statistics").get("out.map-request", 0)
        self._check(step, "lisp1 sent no Map-Request", sent == 0)

    def negative(self) -> None:
        step = self._begin(
            "negative mapping: ping 4.2.2.2 from the EID 192.168.1.1",
            "lisp1 misses in its map-cache and sends an ECM Map-Request; the Map-Resolver "
            "answers 0.0.0.0/1 natively-forward, the least-specific prefix overlapping no "
            "site. Packets to it are then forwarded natively with no new Map-Request.",
        )
        self._check(step, "the ping fails natively", not self._ping(step, "192.168.1.1", "4.2.2.2"))
        self._lab(step, "show", "lisp1", "map-cache")
        cache = {e["eid"]: e for e in self._ask("lisp1", "map-cache")}
        entry = cache.get("0.0.0.0/1", {})
        self._check(
            step,
            "lisp1 caches 0.0.0.0/1 natively-forward",
            entry.get("action") == "natively-forward",
        )
        before = self._ask("lisp1", "statistics").get("out.map-request", 0)
        self._ping(step, "192.168.1.1", "4.2.2.2")
        after = self._ask("lisp1", "statistics").get("out.map-request", 0)
        self._check(step, "the second ping sends no new Map-Request", before == after == 1)

    def positive(self) -> None:
        step = self._begin(
            "positive mapping through the Map-Server: ping 192.168.1.1 -> 192.168.2.1",
            "The Map-Server forwards lisp1's ECM to lisp2, which answers lisp1 directly; "
            "lisp1 encapsulates to 10.0.2.2, and lisp2 resolves the way back the same way.",
        )
        self._check(step, "the first ping succeeds", self._ping(step, "192.168.1.1", "192.168.2.1"))
        self._lab(step, "show", "lisp1", "map-cache")
        self._lab(step, "show", "lisp2", "map-cache")
        lisp1 = {e["eid"]: e for e in self._ask("lisp1", "map-cache")}
        lisp2 = {e["eid"]: e for e in self._ask("lisp2", "map-cache")}
        to_b = lisp1.get("192.168.2.0/24", {})
        self._check(
            step,
            "lisp1 maps 192.168.2.0/24 to 10.0.2.2",
            [r["address"] for r in to_b.get("rlocs", [])] == ["10.0.2.2"],
        )
        self._check(
            step,
            "lisp2 maps 192.168.1.0/24 to 10.0.1.1",
            [r["address"] for r in lisp2.get("192.168.1.0/24", {}).get("rlocs", [])]
            == ["10.0.1.1"],
        )
        self._check(
            step,
            "lisp2 answered lisp1 itself (authoritative reply from 10.0.2.2)",
            to_b.get("authoritative") is True and to_b.get("source") == "10.0.2.2",
        )
        forwarded = self._ask("mapserver", "statistics").get("forward.to-etr", 0)
        self._check(step, "the Map-Server forwarded the Map-Requests", forwarded >= 2)

    def proxy_reply(self) -> None:
        step = self._begin(
            "proxy-reply: the Map-Server answers for lisp2",
            "lisp2 re-registers asking for proxy-reply; lisp1 is restarted so that its "
            "map-cache is empty; the next resolution is answered by the Map-Server itself.",
        )
        config = self.lab.directory / "lisp2-proxy.toml"
        config.write_text(
            (builtin("seed").parent / "seed" / "lisp2.toml")
            .read_text()
            .replace("proxy-reply = false", "proxy-reply = true")
        )
        self.lab.restart_node("lisp2", config)
        self.lab.restart_node("lisp1", builtin("seed").parent / "seed" / "lisp1.toml")
        for node in ("lisp1", "lisp2"):
            self._wait(functools.partial(self.lab.registered, node))
        self._lab(step, "show", "mapserver", "registrations")
        proxies = {r["eid"]: r["proxy_reply"] for r in self._ask("mapserver", "registrations")}
        self._check(
            step, "lisp2's registration asks for proxy-reply", proxies.get("192.168.2.0/24") is True
        )
        before = self._ask("mapserver", "statistics").get("reply.proxy", 0)
        self._check(step, "the ping succeeds", self._ping(step, "192.168.1.1", "192.168.2.1"))
        self._lab(step, "show", "lisp1", "map-cache", "192.168.2.1")
        entry = {e["eid"]: e for e in self._ask("lisp1", "map-cache")}.get("192.168.2.0/24", {})
        self._check(
            step,
            "the Map-Server sent a proxy Map-Reply",
            self._ask("mapserver", "statistics").get("reply.proxy", 0) > before,
        )
        self._check(
            step,
            "lisp1's entry is not authoritative (proxy reply)",
            entry.get("authoritative") is False,
        )

    def site_to_internet(self) -> None:
        step = self._begin(
            "a LISP site reaches the non-LISP host 4.2.2.2 through the PETR",
            "lisp1 gets 0.0.0.0/1 natively-forward from the Map-Resolver, but instead of "
            "sending natively it encapsulates to its PETR (pxtr), which decapsulates and "
            "forwards natively; the reply comes back through pxtr acting as PITR.",
        )
        self._check(
            step,
            "ping 192.168.1.1 -> 4.2.2.2 succeeds",
            self._ping(step, "192.168.1.1", "4.2.2.2", count=2),
        )
        self._lab(step, "show", "lisp1", "forwarding", "4.2.2.2")
        decision = self._ask("lisp1", "forwarding", "4.2.2.2")
        self._check(
            step,
            "lisp1 encapsulates natively-forward traffic to the PETR 10.0.3.3",
            decision.get("rloc") == "10.0.3.3",
        )
        self._check(
            step,
            "lisp1 sent packets to the PETR",
            self._ask("lisp1", "statistics").get("encap.to-petr", 0) >= 2,
        )
        self._check(
            step,
            "pxtr decapsulated them and forwarded them natively",
            self._ask("pxtr", "statistics").get("petr.forwarded", 0) >= 2,
        )

    def internet_to_site(self) -> None:
        step = self._begin(
            "the non-LISP host reaches a LISP site through the PITR",
            "4.2.2.2's route to 192.168.0.0/16 points at pxtr, which attracts that traffic "
            "as a Proxy-ITR: it resolves 192.168.2.1 (Map-Request with the PITR bit) and "
            "encapsulates to lisp2; lisp2's reply goes back through the PETR.",
        )
        self._check(
            step,
            "ping 4.2.2.2 -> 192.168.2.1 succeeds",
            self._ping(step, "4.2.2.2", "192.168.2.1", count=2, node="internet"),
        )
        self._lab(step, "show", "pxtr", "map-cache")
        cache = {e["eid"]: e for e in self._ask("pxtr", "map-cache")}
        rlocs = [r["address"] for r in cache.get("192.168.2.0/24", {}).get("rlocs", [])]
        self._check(step, "pxtr's map-cache maps 192.168.2.0/24 to 10.0.2.2", rlocs == ["10.0.2.2"])
        self._check(
            step,
            "pxtr encapsulated as a PITR",
            self._ask("pxtr", "statistics").get("pitr.packets", 0) >= 2,
        )

    def timeline(self) -> None:
        step = self._begin(
            "the control plane on the wire",
            "The RLOC-side links were recorded; every control message, decoded from the "
            "capture, and Wireshark's verdict on every LISP frame, control and data.",
        )
        merged = self.lab.stop_captures()
        lines = []
        if merged is not None:
            for datagram in read_capture(merged).datagrams:
                port = lisp_port(datagram)
                if port != 4342:
                    continue
                frame = decode_datagram(datagram, port, [])
                lines.append(_timeline_line(datagram.interface, frame.to_json()))
        step.commands.append(f"lispstack decode {merged}")
        step.output.append("\n".join(lines))
        if self.pxtr and merged is not None:
            encapsulated, plain = _pxtr_sides(merged)
            self._check(step, "encapsulated packets between the sites and pxtr", encapsulated)
            self._check(step, "plain packets between pxtr and 4.2.2.2", plain)
        self._check(step, f"capture written to {merged}", merged is not None and bool(lines))
        verdict = _tshark_problems(merged) if merged else ["no capture"]
        step.commands.append(f"tshark -r {merged} (malformed frames, warnings)")
        step.output.append("\n".join(verdict) or "no malformed frame, no warning")
        self._check(step, "Wireshark decodes every control and data frame cleanly", not verdict)

    def _wait(self, predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.2)
        return False


def _timeline_line(interface: str | None, frame: dict[str, Any]) -> str:
    message = frame.get("message") or {}
    kind = message.get("type", "?")
    if kind == "ecm":
        message = message["inner"]["message"]
        kind = f"ecm/{message['type']}"
    records = message.get("records", [])
    eid = records[0]["eid"] if records else ""
    return (
        f"{interface or '':9} {frame['src']:>20} -> {frame['dst']:<20} {kind:18} "
        f"{eid:18} {message.get('nonce', '')}"
    )


def _pxtr_sides(capture: Path) -> tuple[bool, bool]:
    """(LISP data frames to or from pxtr, plain ICMP with 4.2.2.2 outside any LISP header)."""

    def found(display_filter: str) -> bool:
        result = subprocess.run(
            ["tshark", "-r", str(capture), "-Y", display_filter],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return bool(result.stdout.strip())

    return (
        found("lisp-data and ip.addr == 10.0.3.3"),
        found("icmp and not lisp-data and ip.addr == 4.2.2.2"),
    )


def _tshark_problems(capture: Path) -> list[str]:
    result = subprocess.run(
        [
            "tshark",
            "-r",
            str(capture),
            "-Y",
            f"(lisp or lisp-data) and (_ws.malformed or _ws.expert.severity >= {WARNING_SEVERITY})",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "_ws.expert.message",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        return [f"tshark failed: {result.stderr.strip()}"]
    return [f"frame {line}" for line in result.stdout.splitlines() if line.strip()]


def run_demo(capture: Path, keep: bool, as_json: bool, pxtr: bool = False) -> int:
    emit: Callable[[str], None] = (lambda _: None) if as_json else print
    demo = Demo(capture, emit, pxtr)
    try:
        passed = demo.run()
    finally:
        if not keep:
            demo.lab.down()
    if as_json:
        print(
            json.dumps(
                {
                    "passed": passed,
                    "capture": str(capture),
                    "steps": [step.to_json() for step in demo.steps],
                },
                indent=2,
            )
        )
    else:
        kept = f" (lab left up: lispstack lab down --name {demo.lab.name})" if keep else ""
        verdict = "Every step held." if passed else "Some checks FAILED."
        print(f"\n{verdict} Capture: {capture}{kept}")
    return 0 if passed else 1
