"""Writing SVG with the standard library's ElementTree, and the HTML page around one."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html import escape

SVG_NAMESPACE = "http://www.w3.org/2000/svg"
FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"
CHAR_WIDTH = 0.6
"""A monospace character's width, in font sizes (DejaVu Sans Mono: 0.602)."""
RED = "#c62828"
INK = "#1f2933"
GREY = "#7b8794"


def document(width: float, height: float, title: str) -> ET.Element:
    root = ET.Element(
        "svg",
        xmlns=SVG_NAMESPACE,
        width=f"{width:.0f}",
        height=f"{height:.0f}",
        viewBox=f"0 0 {width:.0f} {height:.0f}",
        attrib={"font-family": FONT},
    )
    ET.SubElement(root, "title").text = title
    add(root, "rect", width="100%", height="100%", fill="white")
    return root


def add(parent: ET.Element, tag: str, text: str | None = None, **attributes: object) -> ET.Element:
    """A child element; `stroke_width=2` is written stroke-width="2"."""
    element = ET.SubElement(
        parent,
        tag,
        {
            name.rstrip("_").replace("_", "-"): f"{value:.1f}"
            if isinstance(value, float)
            else str(value)
            for name, value in attributes.items()
        },
    )
    if text is not None:
        element.text = text
    return element


def arrow_markers(root: ET.Element, colours: dict[str, str]) -> None:
    """One arrowhead marker per colour, `id` = the key (`url(#KEY)`)."""
    defs = add(root, "defs")
    for name, colour in colours.items():
        marker = add(
            defs,
            "marker",
            id=name,
            viewBox="0 0 10 10",
            refX=9,
            refY=5,
            markerUnits="userSpaceOnUse",
            markerWidth=10,
            markerHeight=10,
            orient="auto-start-reverse",
        )
        add(marker, "path", d="M 0 0 L 10 5 L 0 10 z", fill=colour)


def text_width(text: str, size: float) -> float:
    return len(text) * size * CHAR_WIDTH


def to_string(root: ET.Element) -> str:
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=False) + "\n"


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
.picture {{ overflow: auto; }}
.arrow:hover line, .arrow:hover path {{ stroke-width: 3; }}
#tooltip {{ position: fixed; display: none; max-width: 60em; padding: 0.5em;
  background: #fffbe6; border: 1px solid #7b8794; font: 12px monospace;
  white-space: pre-wrap; pointer-events: none; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p>Hover over an arrow for the whole decoded message.</p>
<div class="picture">
{svg}</div>
<div id="tooltip"></div>
<script>
const tip = document.getElementById("tooltip");
for (const arrow of document.querySelectorAll(".arrow")) {{
  const detail = arrow.getAttribute("data-detail");
  arrow.querySelector("title")?.remove();  // the SVG's own tooltip: this page shows its own
  arrow.addEventListener("mousemove", (e) => {{
    tip.textContent = detail;
    tip.style.display = "block";
    tip.style.left = (e.clientX + 14) + "px";
    tip.style.top = (e.clientY + 14) + "px";
  }});
  arrow.addEventListener("mouseleave", () => {{ tip.style.display = "none"; }});
}}
</script>
</body>
</html>
"""


def html_page(title: str, svg: str) -> str:
    """A page showing `svg` inline; each `.arrow` element's data-detail is its tooltip."""
    return _PAGE.format(title=escape(title), svg=svg)
