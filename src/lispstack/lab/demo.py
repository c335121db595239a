"""`lispstack demo`: a built-in lab's story, step by step, each step checked.

Every step runs real commands against a real lab, shows what they printed,
and checks the outcome through the nodes' JSON answers (the control socket,
which is what `show --json` prints) and `lispstack decode --json`. The demo
succeeds only if every check holds. The stories: `demo_seed` (the seed
scenario), `demo_pxtr` (the proxy xTR), `demo_tenants` (instance-ids),
`demo_ddt` (LISP-DDT), `demo_nat` (NAT traversal), `demo_multihoming` (RLOC
probing and failover) and `demo_mobility` (a host moving between xTRs).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lispstack.io.control_socket import ask
from lispstack.lab.runner import Lab, lispstack_argv
from lispstack.lab.topology import load_topology

LISPSTACK = " ".join(lispstack_argv())
TOPOLOGIES = {
    "seed": "seed",
    "pxtr": "seed-pxtr",
    "tenants": "tenants",
    "ddt": "ddt",
    "nat": "nat",
    "multihoming": "multihomed",
    "mobility": "mobility",
}
"""The lab of each story."""


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
    """The lab, the steps so far, and the helpers every story uses."""

    def __init__(
        self, capture: Path, emit: Callable[[str], None], story: str, name: str | None
    ) -> None:
        self.topology = load_topology(TOPOLOGIES[story])
        self.lab = Lab(name or self.topology.name)
        self.story = story
        self.capture = capture
        self.emit = emit
        self.steps: list[Step] = []
        self.pictures: dict[str, Path] = {}
        """The ladder (SVG, HTML) and lab drawing written beside the capture, by kind."""

    def run(self) -> bool:
        """The steps, on a lab that is up."""
        from lispstack.lab import (
            demo_ddt,
            demo_mobility,
            demo_multihoming,
            demo_nat,
            demo_pxtr,
            demo_seed,
            demo_tenants,
            timeline,
        )

        stories = {
            "seed": demo_seed.STORY,
            "pxtr": demo_pxtr.STORY,
            "tenants": demo_tenants.STORY,
            "ddt": demo_ddt.STORY,
            "nat": demo_nat.STORY,
            "multihoming": demo_multihoming.STORY,
            "mobility": demo_mobility.STORY,
        }
        for story in stories[self.story]:
            story(self)
            self.show(self.steps[-1])
        timeline.wire_step(self)
        self.show(self.steps[-1])
        return all(step.passed for step in self.steps)

    # ------------------------------------------------------------ helpers for the stories

    def begin(self, title: str, explanation: str) -> Step:
        step = Step(len(self.steps) + 1, title, explanation)
        self.steps.append(step)
        return step

    def command(self, step: Step, argv: list[str]) -> subprocess.CompletedProcess[str]:
        """Run `argv`, record it (as the user would type it) and what it printed."""
        shown = shlex.join(argv)
        step.commands.append(shown.replace(LISPSTACK, "lispstack", 1))
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        step.output.append((result.stdout + result.stderr).rstrip())
        return result

    def lab_command(self, step: Step, verb: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self.command(step, [*lispstack_argv(), "lab", verb, "--name", self.lab.name, *args])

    def ask(self, node: str, topic: str, arg: str | None = None) -> Any:
        """What `lispstack lab show NODE TOPIC [ARG] --json` prints, parsed."""
        return ask(self.lab.socket(node), topic, arg)

    def counter(self, node: str, name: str) -> int:
        value = self.ask(node, "statistics").get(name, 0)
        return int(value)

    def ping(
        self, step: Step, source: str, destination: str, count: int = 1, node: str = "lisp1"
    ) -> bool:
        argv = ["ping", "-n", "-c", str(count), "-W", "2", "-I", source, destination]
        return self.lab_command(step, "exec", node, "--", *argv).returncode == 0

    def ping_stream(
        self, step: Step, node: str, source: str, destination: str, count: int
    ) -> PingStream:
        """Start `count` pings 0.1 s apart from `node` (from `source`) to `destination`, in
        the background (`PingStream.finish` records them in `step`)."""
        argv = ["ping", "-n", "-c", str(count), "-i", "0.1", "-W", "1", "-I", source, destination]
        full = [*lispstack_argv(), "lab", "exec", "--name", self.lab.name, node, "--", *argv]
        process = subprocess.Popen(
            full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        step.commands.append(
            shlex.join(full).replace(LISPSTACK, "lispstack", 1) + "   (background)"
        )
        step.output.append("")  # filled in by `finish`
        return PingStream(step, len(step.output) - 1, process, count)

    @staticmethod
    def check(step: Step, text: str, ok: bool) -> None:
        step.checks.append((text, ok))

    def show(self, step: Step) -> None:
        self.emit(f"\n== Step {step.number}: {step.title}")
        self.emit(step.explanation)
        for command, output in zip(step.commands, step.output, strict=True):
            self.emit(f"$ {command}")
            if output:
                self.emit("  " + output.replace("\n", "\n  "))
        for text, ok in step.checks:
            self.emit(f"  [{'ok' if ok else 'FAILED'}] {text}")


@dataclass
class PingStream:
    """A ping stream running in the background, 0.1 s between pings."""

    step: Step
    output: int
    """The index of its output in the step's."""
    process: subprocess.Popen[str]
    count: int

    def finish(self) -> set[int]:
        """Wait for it and record its output (the summary, not a line per reply); the
        icmp_seq numbers answered."""
        output, _ = self.process.communicate(timeout=self.count * 0.1 + 30)
        shown = [line for line in output.rstrip().splitlines() if "icmp_seq" not in line]
        self.step.output[self.output] = "\n".join(shown)
        return {int(seq) for seq in re.findall(r"icmp_seq=(\d+) ttl", output)}


def run_demo(
    capture: Path, keep: bool, as_json: bool, story: str = "seed", name: str | None = None
) -> int:
    """`story`: a key of TOPOLOGIES."""
    emit: Callable[[str], None] = (lambda _: None) if as_json else print
    demo = Demo(capture, emit, story, name)
    demo.lab.up(demo.topology, capture)  # a failed up removes what it made, nothing else
    try:
        passed = demo.run()
    finally:
        if not keep:
            demo.lab.down()
    if keep:  # the last step stopped the capture to read it: a kept lab records on
        demo.lab.resume_captures(demo.topology)
    if as_json:
        report = {
            "passed": passed,
            "lab": demo.lab.name,
            "capture": str(capture),
            "pictures": {kind: str(path) for kind, path in demo.pictures.items()},
            "steps": [step.to_json() for step in demo.steps],
        }
        print(json.dumps(report, indent=2))
    else:
        kept = (
            f" (lab left up and still recording: lispstack lab down --name {demo.lab.name} "
            "adds what it records to the capture)"
            if keep
            else ""
        )
        verdict = "Every step held." if passed else "Some checks FAILED."
        print(f"\n{verdict} Capture: {capture}{kept}")
        for kind, path in demo.pictures.items():
            print(f"Picture ({kind}): {path}")
    return 0 if passed else 1
