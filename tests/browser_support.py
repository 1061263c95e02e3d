"""Real JupyterLab / Notebook 7 servers and Debian's Chromium, for the browser tests and
``scripts/make_screenshots.py``.

Nothing here downloads anything: the browser is the system's ``/usr/bin/chromium``
(installed by ``scripts/setup.sh``), driven by the ``playwright`` package; the
servers run from this virtualenv with news, update checks and announcements off.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = os.environ.get("KERNEL_EXT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SETUP_HINT = "run scripts/setup.sh (it installs Debian's chromium and the playwright package)"

# Colours of the graph view's nodes (kernel_ext.views.dot.STATE_COLORS), by state name.
WAITING, QUEUED, RUNNING, FINISHED, CANCELLED = (
    "#eeeeee", "#cfe2f3", "#ffd966", "#93c47d", "#b7b7b7")


class BrowserSetupError(RuntimeError):
    """Chromium or playwright is missing: the tests fail (never skip) with this message."""


def chromium_path() -> str:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        raise BrowserSetupError(f"{CHROMIUM} not found: {SETUP_HINT}")
    try:
        import playwright  # noqa: F401
    except ImportError as error:
        raise BrowserSetupError(f"the playwright package is missing: {SETUP_HINT}") from error
    return CHROMIUM


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class JupyterServer:
    """A ``jupyter lab`` or ``jupyter notebook`` server on 127.0.0.1 with a random token."""

    app: str  # "lab" or "notebook"
    root_dir: Path
    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def notebook_url(self, name: str) -> str:
        """The notebook's page; in JupyterLab in a workspace of its own (nothing else open)."""
        if self.app == "lab":
            workspace = "".join(c if c.isalnum() else "-" for c in name)
            return f"{self.base_url}/lab/workspaces/{workspace}/tree/{name}?token={self.token}"
        return f"{self.base_url}/notebooks/{name}?token={self.token}"

    def command(self) -> list[str]:
        jupyter = str(Path(sys.executable).parent / "jupyter")
        return [
            jupyter, self.app, "--no-browser", "--allow-root",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0", f"--ServerApp.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            # No network: no news feed, no update check (both are LabApp traits in
            # JupyterLab 4.6; notebook 7 loads the lab server extension too, so set them there).
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            # window.jupyterapp, so tests can run commands instead of guessing at menus.
            "--LabApp.expose_app_in_browser=True",
            "--JupyterNotebookApp.expose_app_in_browser=True",
            f"--LabApp.workspaces_dir={self.root_dir / '.workspaces'}",
            f"--LabApp.user_settings_dir={self.root_dir / '.settings'}",
        ]

    def start(self, timeout: float = 60.0) -> JupyterServer:
        self.root_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        # Keep the user's Jupyter config and runtime files out of it (the venv's config,
        # which enables the server extensions, still applies).
        env["JUPYTER_CONFIG_DIR"] = str(self.root_dir / ".jupyter-config")
        env["JUPYTER_RUNTIME_DIR"] = str(self.root_dir / ".jupyter-runtime")
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        # The page's build check ("is the lab build up to date?") scans every extension in a
        # server thread for 10+ s on a busy machine; nothing is built here, so turn it off.
        labconfig = self.root_dir / ".jupyter-config" / "labconfig"
        labconfig.mkdir(parents=True, exist_ok=True)
        (labconfig / "page_config.json").write_text(
            json.dumps({"buildCheck": False, "buildAvailable": False}))
        # Never ask "Would you like to get notified about official Jupyter news?" (a toast
        # over the output), never fetch news or check for updates.
        settings = self.root_dir / ".settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        self.log_path = self.root_dir / f"jupyter-{self.app}.log"
        log = open(self.log_path, "wb")  # noqa: SIM115 - the server's lifetime, closed by stop()
        self._log = log
        self.process = subprocess.Popen(self.command(), cwd=self.root_dir, env=env,
                                        stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        url = f"{self.base_url}/api/status?token={self.token}"
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter {self.app} exited with {self.process.returncode}:\n"
                                   f"{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        json.load(response)
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"jupyter {self.app} did not answer within {timeout} s:\n"
                                   f"{self.log_tail()}")
            time.sleep(0.2)

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM the server (it shuts its kernels down), then kill its group if it lingers."""
        process = self.process
        if process is None:
            return
        self.process = None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        self._log.close()


@contextmanager
def jupyter_server(app: str, root_dir: Path) -> Iterator[JupyterServer]:
    server = JupyterServer(app, Path(root_dir)).start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def chromium(viewport: dict[str, int] | None = None) -> Iterator[Any]:
    """A headless Chromium browser (playwright ``Browser``)."""
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS,
                                    headless=True)
        try:
            yield browser
        finally:
            browser.close()


def write_notebook(path: Path, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, str(path))
    return path


# --------------------------------------------------------------------------- notebooks

LOAD = "%load_ext kernel_ext\nimport threading\nimport time\nimport kernel_ext"

DEMO_GRAPH = '''\
gate = threading.Event()  # the loads start when a later cell sets it

def load(i):
    gate.wait()
    time.sleep({seconds})
    return i

def clean(a, b):
    time.sleep({seconds})
    return a + b

def combine(*parts):
    time.sleep({seconds})
    return sum(parts)

# 12 tasks in 3 groups: 6 loads -> 4 cleans (each of two loads) -> 2 combines.
dsk = {{("load", i): (load, i) for i in range(6)}}
pairs = [(0, 1), (2, 3), (4, 5), (1, 4)]
dsk.update({{("clean", j): (clean, ("load", a), ("load", b)) for j, (a, b) in enumerate(pairs)}})
dsk["total"] = (combine, ("clean", 0), ("clean", 1))
dsk["check"] = (combine, ("clean", 2), ("clean", 3), "total")
'''
SUBMIT = ('job = kernel_ext.submit(dsk, ["total", "check"], num_workers={workers}, name="{name}")\n'
          "job.show(progress=True, stream={stream}, graph={graph})")


def demo_cells(seconds: float = 0.4, workers: int = 2, name: str = "demo job",
               stream: bool = True, graph: bool = True) -> list[str]:
    """The demo notebook: load; a 12-task graph; submit and show; open the gate; status.

    ``submit`` returns at once, so the third cell ends while the job waits at the
    gate (every view on the page, nothing run yet); the fourth cell opens it and the
    views update live from the job's threads. The last cell reports the job's end.
    """
    return [
        LOAD,
        DEMO_GRAPH.format(seconds=seconds),
        SUBMIT.format(workers=workers, name=name, stream=stream, graph=graph),
        "gate.set()",
        "job.wait(30)\n"
        'finished = sum(s.value == "finished" for s in job.states().values())\n'
        'print(f"status={job.status.value} finished={finished}/{len(job.keys)}")',
    ]


GATE_CELL = 3
STATUS_CELL = 4


# --------------------------------------------------------------------------- page driving

def open_notebook(browser: Any, server: JupyterServer, name: str,
                  viewport: dict[str, int] | None = None) -> tuple[Any, list[str]]:
    """Open ``name`` in a new page; wait for the app and an idle kernel. Returns page, console."""
    page = browser.new_page(viewport=viewport or {"width": 1280, "height": 1000})
    console: list[str] = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
    page.goto(server.notebook_url(name), wait_until="domcontentloaded")
    page.wait_for_function(
        "(name) => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
        " return !!(w && w.context && w.context.path === name && w.content); }",
        arg=name, timeout=45_000)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=30_000)
    wait_kernel_idle(page)
    return page, console


_KERNEL_STATUS = """() => {
    const app = window.jupyterapp;
    const widget = app.shell.currentWidget;
    const ctx = widget && widget.sessionContext;
    const kernel = ctx && ctx.session && ctx.session.kernel;
    return kernel ? kernel.status : null;
}"""


def wait_kernel_idle(page: Any, timeout: float = 45.0) -> None:
    page.wait_for_function(f"() => ({_KERNEL_STATUS})() === 'idle'", timeout=timeout * 1000)


def run_command(page: Any, command: str, args: dict[str, Any] | None = None) -> None:
    """Run a JupyterLab command (``notebook:run-all-cells`` ...) in the page's app."""
    page.evaluate("([c, a]) => window.jupyterapp.commands.execute(c, a)", [command, args or {}])


def run_cell(page: Any, index: int) -> None:
    """Run cell ``index`` and wait until it has executed (the command's promise)."""
    ok = page.evaluate("""async (i) => {
        const nb = window.jupyterapp.shell.currentWidget.content;
        nb.activeCellIndex = i;
        nb.mode = 'command';
        return await window.jupyterapp.commands.execute('notebook:run-cell');
    }""", index)
    if ok is False:
        raise AssertionError(f"cell {index} did not run: {cell_output_text(page, index)!r}")


def run_cells(page: Any, indices: range | list[int]) -> None:
    for index in indices:
        run_cell(page, index)


def cell_output_text(page: Any, index: int) -> str:
    return page.locator(".jp-Notebook .jp-Cell").nth(index).locator(
        ".jp-OutputArea").inner_text()


# ipywidgets 8 marks a progress bar ``widget-hprogress`` (``widget-progress`` in 7).
PROGRESS = ".widget-hprogress, .widget-vprogress, .widget-progress"


def progress_state(page: Any) -> dict[str, Any]:
    """The progress view as the browser shows it: bar widths (percent) and texts."""
    return page.evaluate("""(PROGRESS) => {
        const PROGRESS_BARS = PROGRESS.split(',').map(s => s + ' .progress-bar').join(',');
        const root = document.querySelector('.kernel-ext-progress');
        if (!root) return null;
        const bars = [...root.querySelectorAll(PROGRESS_BARS)]
            .map(b => parseFloat(b.style.width || '0'));
        const texts = [...root.querySelectorAll('.widget-html-content')].map(e => e.textContent);
        return {bars, texts, text: root.textContent};
    }""", PROGRESS)


def graph_fills(page: Any) -> list[str]:
    """Fill colours of the graph view's node shapes, in document order."""
    return page.evaluate("""() => [...document.querySelectorAll(
            '.kernel-ext-views svg g.node')].map(g => {
        const shape = g.querySelector('polygon, ellipse, path');
        return shape ? shape.getAttribute('fill').toLowerCase() : null;
    })""")


def stream_keys(page: Any) -> list[str] | None:
    """The ``key`` column of the task stream's ColumnDataSource, as BokehJS holds it
    (the longest, if several documents hold one), or None if there is no such plot."""
    return page.evaluate("""() => {
        const B = window.Bokeh;
        if (!B || !B.documents) return null;
        let best = null;
        for (const doc of B.documents) {
            for (const m of doc.all_models) {
                if (m.type !== 'ColumnDataSource') continue;
                const key = m.data instanceof Map ? m.data.get('key') : m.data['key'];
                if (key !== undefined && (best === null || key.length > best.length))
                    best = Array.from(key);
            }
        }
        return best;
    }""")


def canvas_colors(page: Any, colors: list[str]) -> dict[str, int]:
    """How many pixels of the task stream's canvases have each of ``colors`` (``#rrggbb``)."""
    counts = {}
    for canvas in page.locator(".kernel-ext-views canvas").all():
        found = canvas.evaluate("""(c, colors) => {
            const out = Object.fromEntries(colors.map(k => [k, 0]));
            if (!c.width || !c.height) return out;
            const ctx = c.getContext('2d');
            if (!ctx) return out;
            const data = ctx.getImageData(0, 0, c.width, c.height).data;
            const want = colors.map(k => [k, parseInt(k.slice(1, 3), 16),
                parseInt(k.slice(3, 5), 16), parseInt(k.slice(5, 7), 16)]);
            for (let p = 0; p < data.length; p += 4) {
                if (data[p + 3] === 0) continue;
                for (const [k, r, g, b] of want) {
                    if (Math.abs(data[p] - r) + Math.abs(data[p + 1] - g)
                            + Math.abs(data[p + 2] - b) < 40) out[k] += 1;
                }
            }
            return out;
        }""", colors)
        for key, n in found.items():
            counts[key] = counts.get(key, 0) + n
    return counts


def artifact(test: str, stage: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{test}-{stage}.png"


def reset_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
