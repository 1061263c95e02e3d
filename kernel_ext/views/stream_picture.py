"""A finished task stream as a static SVG picture, for views that are no longer live.

A long session's finished views are retired (:mod:`kernel_ext.views.retire`):
their widgets are closed, so the kernel does not keep a bokeh document per
cell. What the cell then shows must still be the stream it ran, so the
stream's rows (the same columns the bokeh plot drew) are drawn here as plain
SVG: a lane per worker, a bar per run coloured by group, a tooltip per bar
(its ``<title>``), and a time axis. No script runs, so it shows in any
frontend and in a saved notebook, trusted or not.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

LANE_HEIGHT = 18
LABEL_WIDTH = 110
TOP = 24  # the title
BOTTOM = 30  # the axis and its label


def task_stream_svg(columns: Mapping[str, Sequence[Any]], lanes: Mapping[str, int],
                    title: str, width: int = 760) -> str:
    """The rows of a task stream (``left``, ``right``, ``lane``, ``color``, ``alpha``,
    ``key``, ``group``, ``duration``; seconds since the job started) as an SVG element."""
    count = len(columns.get("left", ()))
    n_lanes = max(len(lanes), 1)
    height = TOP + n_lanes * LANE_HEIGHT + BOTTOM
    end = max((float(r) for r in columns.get("right", ())), default=0.0) or 1.0
    plot = width - LABEL_WIDTH - 10
    scale = plot / end
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
             f'<text x="4" y="15" font-weight="bold">{html.escape(title)}</text>']
    for name, lane in lanes.items():
        y = TOP + lane * LANE_HEIGHT + LANE_HEIGHT * 0.7
        parts.append(f'<text x="{LABEL_WIDTH - 6}" y="{y:.1f}" text-anchor="end">'
                     f"{html.escape(_short(name))}</text>")
    axis_y = TOP + n_lanes * LANE_HEIGHT
    for tick in _ticks(end):
        x = LABEL_WIDTH + tick * scale
        parts.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{axis_y}" '
                     'stroke="#eee"/>')
        parts.append(f'<text x="{x:.1f}" y="{axis_y + 13}" text-anchor="middle">'
                     f"{tick:g}</text>")
    parts.append(f'<text x="{LABEL_WIDTH + plot / 2:.1f}" y="{height - 3}" '
                 'text-anchor="middle" fill="#555">seconds since start</text>')
    for i in range(count):
        left, right = float(columns["left"][i]), float(columns["right"][i])
        y = TOP + int(columns["lane"][i]) * LANE_HEIGHT + LANE_HEIGHT * 0.1
        tip = (f"{columns['key'][i]} ({columns['group'][i]}): "
               f"{float(columns['duration'][i]):.3f} s")
        parts.append(
            f'<rect x="{LABEL_WIDTH + left * scale:.2f}" y="{y:.1f}" '
            f'width="{max((right - left) * scale, 0.5):.2f}" height="{LANE_HEIGHT * 0.8:.1f}" '
            f'fill="{html.escape(str(columns["color"][i]))}" '
            f'fill-opacity="{float(columns["alpha"][i]):.2f}" stroke="white" stroke-width="1">'
            f"<title>{html.escape(tip)}</title></rect>")
    parts.append("</svg>")
    return "".join(parts)


def _ticks(end: float) -> list[float]:
    """About five round ticks from 0 to ``end`` seconds."""
    step = 10 ** math.floor(math.log10(end / 5)) if end > 0 else 1.0
    for factor in (1, 2, 5, 10):
        if end / (step * factor) <= 6:
            step *= factor
            break
    return [round(i * step, 6) for i in range(int(end / step) + 1)]


def _short(name: str) -> str:
    return name if len(name) <= 16 else name[:15] + "…"
