"""Reading the pictures back: their elements (xml.etree), and their PNG by rsvg-convert."""

from __future__ import annotations

import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

SVG = "{http://www.w3.org/2000/svg}"


def groups(svg: ET.Element, kind: str) -> list[ET.Element]:
    """The <g> elements whose class names `kind` (arrow, column, node, link)."""
    return [g for g in svg.iter(f"{SVG}g") if kind in g.get("class", "").split()]


def texts(element: ET.Element) -> list[str]:
    return [t.text or "" for t in element.iter(f"{SVG}text")]


def node_texts(svg: ET.Element) -> dict[str, list[str]]:
    return {g.get("data-node", ""): texts(g) for g in groups(svg, "node")}


def _png_scanlines(png: bytes) -> bytes:
    """The PNG's filtered scanlines (enough to tell a blank picture from a drawing)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    offset, data = 8, b""
    while offset < len(png):
        (length,) = struct.unpack_from(">I", png, offset)
        if png[offset + 4 : offset + 8] == b"IDAT":
            data += png[offset + 8 : offset + 8 + length]
        offset += 12 + length
    return zlib.decompress(data)


def assert_renders(svg: Path) -> None:
    """rsvg-convert draws `svg`, and the PNG holds text and lines, not one blank colour."""
    png = svg.with_suffix(".png")
    subprocess.run(["rsvg-convert", str(svg), "-o", str(png)], check=True, timeout=60)
    pixels = _png_scanlines(png.read_bytes())
    assert len(set(pixels)) > 20, "the rendered picture is (nearly) one colour"
    assert sum(1 for byte in pixels if byte < 0x80) > 1000, "the rendered picture has no ink"
