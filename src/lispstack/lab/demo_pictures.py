"""The demo's pictures, written beside its capture: the ladder of the control plane (SVG,
and an HTML page with the decoded message per arrow) and a drawing of the lab."""

from __future__ import annotations

from pathlib import Path

from lispstack.lab.demo import Demo, Step
from lispstack.lab.runner import lispstack_argv


def picture_paths(capture: Path) -> dict[str, Path]:
    """`/tmp/demo.pcapng` -> `/tmp/demo-ladder.svg`, `-ladder.html`, `-lab.svg`."""
    return {
        kind: capture.with_name(f"{capture.stem}-{kind.replace(' ', '.')}")
        for kind in ("ladder svg", "ladder html", "lab svg")
    }


def draw(demo: Demo, step: Step, capture: Path, keys: list[str]) -> None:
    """Run the commands a user would (decode --ladder, lab draw), record and check them."""
    paths = picture_paths(capture)
    for kind in ("ladder svg", "ladder html"):
        argv = [*lispstack_argv(), "decode", str(capture), "--ladder", str(paths[kind])]
        argv += ["--topology", demo.topology.source]
        for key in keys:
            argv += ["--key", key]
        demo.command(step, argv)
    demo.lab_command(step, "draw", str(paths["lab svg"]))
    for kind, path in paths.items():
        demo.check(step, f"{kind} picture written to {path}", path.exists())
    demo.pictures = paths
