"""Make the README pictures from a real run: progress, task stream and graph in JupyterLab.

    .venv/bin/python scripts/make_screenshots.py [--out docs/images]

Starts a JupyterLab server and Debian's Chromium with the browser tests' helpers
(tests/browser_support.py), runs the demo notebook (12 tasks in 3 groups on 2
workers) and crops each view: progress.png and graph.png mid-run, stream.png at
the end (the whole run).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from browser_support import (  # noqa: E402
    GATE_CELL,
    RUNNING,
    chromium,
    demo_cells,
    jupyter_server,
    open_notebook,
    run_cells,
    run_command,
    write_notebook,
)

MAX_BYTES = 200_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, jupyter_server("lab", Path(tmp)) as server, \
            chromium() as browser:
        # No waiting at the gate here (it would show in the task stream): open it and load
        # BokehJS before submitting, so the views are up within the first task.
        cells = demo_cells(seconds=0.8, workers=2)
        cells.insert(GATE_CELL - 1, "gate.set()\nfrom kernel_ext.views.stream import load_bokehjs\n"
                                    "load_bokehjs()")
        write_notebook(server.root_dir / "demo.ipynb", cells)
        page, _console = open_notebook(browser, server, "demo.ipynb",
                                       viewport={"width": 1300, "height": 1200})
        run_command(page, "application:toggle-left-area")  # the file browser: no room taken
        run_cells(page, range(GATE_CELL + 1))
        views = page.locator(".kernel-ext-views")
        # Mid-run: some groups done, some running, some waiting.
        page.wait_for_function(
            """(running) => {
                const text = document.querySelector('.kernel-ext-progress').textContent;
                const m = text.match(/(\\d+)\\/12 ·/);
                const fills = [...document.querySelectorAll('.kernel-ext-views svg g.node')]
                    .map(g => g.querySelector('polygon, ellipse, path').getAttribute('fill'));
                return m && +m[1] >= 6 && +m[1] <= 8 && fills.includes(running);
            }""", arg=RUNNING, timeout=30_000, polling=50)
        shots = {
            "progress.png": page.locator(".kernel-ext-progress"),
            "graph.png": views.locator("svg:has(g.node)").first,
        }
        for name, locator in shots.items():
            locator.screenshot(path=out / name)
        page.locator(".kernel-ext-progress", has_text="tasks ·").wait_for(timeout=30_000)
        page.wait_for_timeout(800)
        stream = views.locator(".bk-Figure, .bk-root, .jupyter-widgets:has(canvas)").first
        stream.screenshot(path=out / "stream.png")
        page.close()
    for name in ("progress.png", "stream.png", "graph.png"):
        size = (out / name).stat().st_size
        print(f"{out / name}: {size // 1024} KB")
        if size > MAX_BYTES:
            print(f"  larger than {MAX_BYTES // 1000} KB", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
