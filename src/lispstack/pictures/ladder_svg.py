"""Drawing a Ladder as SVG (and as an HTML page with a tooltip per arrow)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from lispstack.pictures.ladder import Arrow, Ladder
from lispstack.pictures.svg import (
    GREY,
    INK,
    RED,
    add,
    arrow_markers,
    document,
    html_page,
    text_width,
    to_string,
)

FONT_SIZE = 12
TIME_COLUMN = 130
EDGE = 110
"""From the time column to the first lifeline, and from the last one to the right edge."""
MIN_SPACING = 240
MAX_SPACING = 600
HEADER = 64
ROW = 32
MARGIN = 24
NAMES_EVERY = 25
"""Every this many arrows the column names are written again, in a band this high:"""
NAMES_BAND = 20


def _spacing(ladder: Ladder) -> float:
    """Wide enough for the labels of arrows between neighbouring columns, within bounds."""
    widest = max((text_width(a.label, FONT_SIZE) for a in ladder.arrows), default=0.0)
    return max(MIN_SPACING, min(MAX_SPACING, widest + 40))


def _row_y(row: int) -> float:
    """Where arrow `row` (from 1) is drawn: rows ROW apart, plus the names bands above it."""
    return HEADER + ROW * row + NAMES_BAND * ((row - 1) // NAMES_EVERY)


def ladder_svg(ladder: Ladder, title: str) -> str:
    spacing = _spacing(ladder)
    x = {name: TIME_COLUMN + EDGE + spacing * i for i, (name, _) in enumerate(ladder.columns)}
    width = TIME_COLUMN + 2 * EDGE + spacing * max(len(ladder.columns) - 1, 0)
    bottom = _row_y(len(ladder.arrows)) + ROW
    root = document(width, bottom + MARGIN, title)
    arrow_markers(root, {"head": INK, "head-red": RED})
    add(root, "text", "time, frame", x=12, y=HEADER - 14, font_size=11, fill=GREY)
    for name, addresses in ladder.columns:
        column = add(root, "g", class_="column")
        add(column, "line", x1=x[name], y1=HEADER - 8, x2=x[name], y2=bottom,
            stroke="#9aa5b1", stroke_dasharray="4 4")  # fmt: skip
        add(column, "text", name, x=x[name], y=22, font_size=14, font_weight="bold",
            text_anchor="middle", fill=INK)  # fmt: skip
        shown = ", ".join(a for a in addresses if a != name)
        if shown:
            add(column, "text", shown, x=x[name], y=40, font_size=11, text_anchor="middle",
                fill=GREY)  # fmt: skip
    for row, arrow in enumerate(ladder.arrows, 1):
        y = _row_y(row)
        if row > 1 and (row - 1) % NAMES_EVERY == 0:  # for a reader scrolled down a long ladder
            for name, _ in ladder.columns:
                add(root, "text", name, x=x[name], y=y - 24, font_size=11, font_weight="bold",
                    text_anchor="middle", fill=GREY, stroke="white", stroke_width=4,
                    paint_order="stroke", class_="column-name")  # fmt: skip
        _arrow(root, arrow, y, x, ladder.start, width)
    return to_string(root)


def _arrow(
    root: ET.Element, arrow: Arrow, y: float, x: dict[str, float], start: float, width: float
) -> None:
    colour = RED if arrow.failed else INK
    group = add(
        root,
        "g",
        class_="arrow failed" if arrow.failed else "arrow",
        data_frames=",".join(map(str, arrow.frames)),
        data_detail=arrow.detail,
    )
    add(group, "title", arrow.detail)
    # the whole row answers the pointer (a 1.5 px line is hard to hover)
    add(group, "rect", x=0, y=y - ROW / 2 - 4, width=width, height=ROW, fill="white",
        fill_opacity=0, class_="hover")  # fmt: skip
    when = f"+{arrow.time - start:.3f}s #{arrow.frames[0]}"
    add(group, "text", when, x=12, y=y + 4, font_size=11, fill=GREY)
    x1, x2 = x[arrow.src], x[arrow.dst]
    marker = "url(#head-red)" if arrow.failed else "url(#head)"
    thickness = 2.5 if arrow.count > 1 else 1.5
    if x1 == x2:  # to itself: a small loop on the right of its line
        add(group, "path", d=f"M {x1} {y - 6} h 30 v 12 h -28", fill="none", stroke=colour,
            stroke_width=thickness, marker_end=marker)  # fmt: skip
        middle = x1 + 40 + text_width(arrow.label, FONT_SIZE) / 2
    else:
        add(group, "line", x1=x1, y1=y, x2=x2, y2=y, stroke=colour, stroke_width=thickness,
            marker_end=marker)  # fmt: skip
        middle = (x1 + x2) / 2
    half = text_width(arrow.label, FONT_SIZE) / 2
    middle = min(max(middle, TIME_COLUMN + half), width - half)
    add(group, "text", arrow.label, x=middle, y=y - 6, font_size=FONT_SIZE, text_anchor="middle",
        fill=colour, font_weight="bold" if arrow.failed else "normal", stroke="white",
        stroke_width=3, paint_order="stroke")  # fmt: skip


def write_ladder(ladder: Ladder, out: Path, title: str) -> None:
    """`out` as SVG, or as an HTML page holding the SVG when it ends in .html/.htm."""
    svg = ladder_svg(ladder, title)
    if out.suffix.lower() in (".html", ".htm"):
        out.write_text(html_page(title, svg))
    else:
        out.write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + svg)
