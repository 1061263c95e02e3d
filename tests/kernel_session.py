"""A real ipykernel driven through jupyter_client, for faithfulness tests.

``KernelSession`` starts the venv's own python as an ipykernel (a private
kernelspec written to a temporary directory, so no installed kernelspec can
swap the interpreter), executes code and collects, for that one execute
request (matched by the parent ``msg_id``), what a frontend would show:
stdout and stderr text, execute_result and display_data payloads, the error
and the reply status. ``snapshot()`` returns the user namespace in a canonical
JSON form, computed inside the kernel by a silent ``user_expressions``
evaluation that binds no names and does not bump the execution counter.
"""

from __future__ import annotations

import ast
import json
import os
import queue
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CELL_FRAME = re.compile(r"Cell In\s*\[(\d+)\],\s*line (\d+)")
_FILE_FRAME = re.compile(r"File\s+(\S+?):(\d+),\s*in\s+(\S+)")

KERNEL_NAME = "kernel_ext_test_python"


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


@dataclass
class ErrorInfo:
    """An ``error`` iopub message (or the error in an execute_reply)."""

    ename: str
    evalue: str
    traceback: list[str]

    @property
    def text(self) -> str:
        return strip_ansi("\n".join(self.traceback))

    def cell_lines(self) -> list[tuple[int, int]]:
        """(execution count, line) of every ``Cell In[n], line k`` frame, outermost first."""
        return [(int(n), int(k)) for n, k in _CELL_FRAME.findall(self.text)]

    def innermost_cell_line(self) -> int | None:
        lines = self.cell_lines()
        return lines[-1][1] if lines else None

    def frames(self, this_count: int | None) -> list[tuple[str, ...]]:
        """Frame headers, normalised: ('cell', 'this'|'other', line) or ('file', basename, func)."""
        out: list[tuple[str, ...]] = []
        for entry in self.traceback:
            text = strip_ansi(entry)
            for m in re.finditer(
                r"Cell In\s*\[(\d+)\],\s*line (\d+)|File\s+(\S+?):(\d+),\s*in\s+(\S+)", text
            ):
                if m.group(1) is not None:
                    which = "this" if int(m.group(1)) == this_count else "other"
                    out.append(("cell", which, m.group(2)))
                else:
                    out.append(("file", os.path.basename(m.group(3)), m.group(5)))
        return out


@dataclass
class ExecResult:
    """What one execute request produced, as a frontend would show it."""

    code: str
    status: str = ""
    execution_count: int | None = None
    stdout: str = ""
    stderr: str = ""
    # ('stdout'|'stderr', text) chunks, in arrival order, adjacent same-stream chunks merged
    streams: list[tuple[str, str]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)  # execute_result data
    displays: list[dict[str, Any]] = field(default_factory=list)  # display_data data
    # every output in arrival order: ('stream:stdout', text) / ('display', data) / ('result', data)
    outputs: list[tuple[str, Any]] = field(default_factory=list)
    error: ErrorInfo | None = None
    user_expressions: dict[str, Any] = field(default_factory=dict)
    elapsed: float = 0.0  # from sending the request to its reply
    payload: list[dict[str, Any]] = field(default_factory=list)  # reply payloads (pager text)
    raw: list[dict[str, Any]] = field(default_factory=list)
    msg_id: str = ""  # the execute request's id: the parent of everything it outputs

    def check_ok(self) -> ExecResult:
        """Fail loudly (with the traceback) unless the request succeeded."""
        if self.status != "ok":
            detail = self.error.text if self.error else "(no error message)"
            raise AssertionError(f"kernel execution failed:\n{self.code}\n---\n{detail}")
        return self


# Runs inside the kernel (exec'd into a private dict): the user namespace in canonical form.
_SNAPSHOT_SRC = r"""
import json as _json, math as _math, sys as _sys, types as _types, random as _random, hashlib as _hl

def _canon(v, depth=0, seen=None):
    seen = set() if seen is None else seen
    if depth > 8:
        return ["<deep>", type(v).__name__]
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if _math.isfinite(v) else ["float", repr(v)]
    if isinstance(v, complex):
        return ["complex", repr(v)]
    if isinstance(v, bytes):
        return ["bytes", v.hex()]
    if id(v) in seen:
        return ["<cycle>", type(v).__name__]
    seen = seen | {id(v)}
    np = _sys.modules.get("numpy")
    pd = _sys.modules.get("pandas")
    if pd is not None and isinstance(v, pd.DataFrame):
        return ["DataFrame", {"columns": _canon(list(map(str, v.columns)), depth + 1, seen),
                "index": _canon(v.index.tolist(), depth + 1, seen),
                "dtypes": [str(t) for t in v.dtypes],
                "data": _canon(v.to_dict("list"), depth + 1, seen)}]
    if pd is not None and isinstance(v, pd.Series):
        return ["Series", {"name": _canon(v.name, depth + 1, seen), "dtype": str(v.dtype),
                "index": _canon(v.index.tolist(), depth + 1, seen),
                "data": _canon(v.tolist(), depth + 1, seen)}]
    if pd is not None and isinstance(v, pd.Index):
        return ["Index", str(v.dtype), _canon(v.tolist(), depth + 1, seen)]
    if np is not None:
        if isinstance(v, np.ndarray):
            return ["ndarray", str(v.dtype), list(v.shape), _canon(v.tolist(), depth + 1, seen)]
        if isinstance(v, np.generic):
            return ["npscalar", type(v).__name__, _canon(v.item(), depth + 1, seen)]
        if isinstance(v, np.random.Generator):
            return ["Generator", _canon(v.bit_generator.state, depth + 1, seen)]
    if isinstance(v, (list, tuple)):
        return [type(v).__name__, [_canon(x, depth + 1, seen) for x in v]]
    if isinstance(v, (set, frozenset)):
        items = sorted(_json.dumps(_canon(x, depth + 1, seen), sort_keys=True) for x in v)
        return [type(v).__name__, items]
    if isinstance(v, dict):
        items = [[_canon(k, depth + 1, seen), _canon(x, depth + 1, seen)] for k, x in v.items()]
        return [type(v).__name__, items]  # insertion order matters for dicts
    if isinstance(v, _types.ModuleType):
        return ["module", v.__name__]
    if isinstance(v, (_types.FunctionType, _types.BuiltinFunctionType, _types.MethodType, type)):
        return [type(v).__name__, getattr(v, "__module__", None),
                getattr(v, "__qualname__", repr(v))]
    if isinstance(v, _types.GeneratorType):
        return ["generator", v.__qualname__]
    d = getattr(v, "__dict__", None)
    if isinstance(d, dict):
        return ["object", type(v).__qualname__, _canon(dict(sorted(d.items())), depth + 1, seen)]
    return ["object", type(v).__qualname__]

def _rng_state():
    parts = [repr(_random.getstate())]
    np = _sys.modules.get("numpy")
    if np is not None:
        st = np.random.get_state()
        parts.append(repr((st[0], st[1].tolist(), st[2:])))
    return _hl.sha256("".join(parts).encode()).hexdigest()[:16]

def _snapshot():
    import os as _os
    ip = get_ipython()
    ns, hidden = ip.user_ns, ip.user_ns_hidden
    nomatch = object()
    names = sorted(n for n in ns if not n.startswith("_") and ns[n] is not hidden.get(n, nomatch))
    out = {n: _canon(ns[n]) for n in names}
    groups = {}
    for n in names:
        v = ns[n]
        if not isinstance(v, (type(None), bool, int, float, complex, str, bytes, tuple,
                              frozenset, _types.ModuleType, _types.FunctionType, type)):
            groups.setdefault(id(v), []).append(n)
    return _json.dumps({"names": out,
                        "aliases": sorted(g for g in groups.values() if len(g) > 1),
                        "<rng>": _rng_state(), "<cwd>": _os.getcwd()},
                       sort_keys=True, default=repr)

result = _snapshot()
"""

_SNAPSHOT_EXPR = (
    f"(lambda __kx_d: (__import__('builtins').exec({_SNAPSHOT_SRC!r}, __kx_d), "
    "__kx_d['result'])[1])({'get_ipython': get_ipython})"
)


class KernelSession:
    """One real kernel, started from this interpreter, driven message by message."""

    def __init__(self, extra_env: dict[str, str] | None = None) -> None:
        self._spec_dir = tempfile.TemporaryDirectory(prefix="kernel_ext_spec_")
        spec_path = os.path.join(self._spec_dir.name, KERNEL_NAME)
        os.makedirs(spec_path)
        with open(os.path.join(spec_path, "kernel.json"), "w") as f:
            json.dump(
                {
                    "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    "display_name": "kernel_ext tests",
                    "language": "python",
                },
                f,
            )
        ksm = KernelSpecManager(kernel_dirs=[self._spec_dir.name], ensure_native_kernel=False)
        self.km = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=ksm)
        self._env = dict(os.environ)
        self._env.update(extra_env or {})
        self.kc: Any = None
        self._sent_at = time.monotonic()
        # every iopub message seen, by its parent's msg_id (late output of background work)
        self.by_parent: dict[str, list[dict[str, Any]]] = {}
        self.comm_messages: list[dict[str, Any]] = []  # every comm message, whatever its parent

    # ------------------------------------------------------------------ lifetime

    def start(self, timeout: float = 60) -> KernelSession:
        assert self.km.kernel_spec.argv[0] == sys.executable, self.km.kernel_spec.argv
        self.km.start_kernel(env=self._env)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=timeout)
        return self

    def shutdown(self) -> None:
        if self.kc is not None:
            self.kc.stop_channels()
            self.kc = None
        if self.km.has_kernel:
            self.km.shutdown_kernel(now=True)
        self._spec_dir.cleanup()

    def __enter__(self) -> KernelSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def is_alive(self) -> bool:
        return bool(self.km.is_alive())

    def interrupt(self) -> None:
        self.km.interrupt_kernel()

    # ----------------------------------------------------------------- executing

    def execute(
        self,
        code: str,
        timeout: float = 60,
        silent: bool = False,
        store_history: bool = True,
        user_expressions: dict[str, str] | None = None,
    ) -> ExecResult:
        """Execute ``code``; collect this request's iopub output until its idle status."""
        msg_id = self.send(code, silent, store_history, user_expressions)
        return self.collect(msg_id, code, timeout)

    def send(
        self,
        code: str,
        silent: bool = False,
        store_history: bool = True,
        user_expressions: dict[str, str] | None = None,
    ) -> str:
        """Send an execute request without waiting; returns its msg_id for ``collect``."""
        self._sent_at = time.monotonic()
        return str(
            self.kc.execute(
                code,
                silent=silent,
                store_history=store_history,
                user_expressions=user_expressions or {},
                allow_stdin=False,
            )
        )

    def collect(self, msg_id: str, code: str = "", timeout: float = 60) -> ExecResult:
        """Gather the iopub messages and the reply of the request ``msg_id``."""
        kc = self.kc
        started = self._sent_at
        res = ExecResult(code=code, msg_id=msg_id)
        deadline = time.monotonic() + timeout
        idle = False
        while not idle:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no idle status within {timeout}s for:\n{code}")
            try:
                msg = kc.get_iopub_msg(timeout=remaining)
            except queue.Empty:
                continue
            self._keep(msg)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            res.raw.append(msg)
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status":
                idle = content["execution_state"] == "idle"
            elif kind == "stream":
                name, text = content["name"], content["text"]
                if name == "stdout":
                    res.stdout += text
                else:
                    res.stderr += text
                if res.streams and res.streams[-1][0] == name:
                    res.streams[-1] = (name, res.streams[-1][1] + text)
                else:
                    res.streams.append((name, text))
                if res.outputs and res.outputs[-1][0] == f"stream:{name}":
                    res.outputs[-1] = (f"stream:{name}", res.outputs[-1][1] + text)
                else:
                    res.outputs.append((f"stream:{name}", text))
            elif kind == "execute_result":
                res.results.append(content["data"])
                res.outputs.append(("result", content["data"]))
            elif kind == "display_data":
                res.displays.append(content["data"])
                res.outputs.append(("display", content["data"]))
            elif kind == "error":
                res.error = ErrorInfo(content["ename"], content["evalue"], content["traceback"])
            elif kind == "execute_input":
                res.execution_count = content.get("execution_count")
        reply = self._reply(msg_id, deadline)
        content = reply["content"]
        res.status = content["status"]
        res.payload = content.get("payload", [])
        if res.execution_count is None:
            res.execution_count = content.get("execution_count")
        res.user_expressions = content.get("user_expressions", {})
        if res.error is None and res.status == "error":
            res.error = ErrorInfo(
                content.get("ename", ""), content.get("evalue", ""), content.get("traceback", [])
            )
        res.elapsed = time.monotonic() - started
        return res

    def _keep(self, msg: dict[str, Any]) -> None:
        if msg["msg_type"].startswith("comm_"):
            self.comm_messages.append(msg)
        parent = msg["parent_header"].get("msg_id")
        if parent:
            self.by_parent.setdefault(parent, []).append(msg)

    def messages_for(
        self,
        msg_id: str,
        until: Any = None,
        timeout: float = 10,
    ) -> list[dict[str, Any]]:
        """Every iopub message seen so far whose parent is ``msg_id``, including late ones.

        Reads iopub for up to ``timeout`` seconds, until ``until(messages)`` is true
        (without ``until``: reads what is already there, briefly).
        """
        deadline = time.monotonic() + (timeout if until is not None else 0.2)
        while True:
            messages = self.by_parent.get(msg_id, [])
            if until is not None and until(messages):
                return messages
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if until is not None:
                    raise TimeoutError(f"messages of {msg_id} never satisfied the condition")
                return messages
            try:
                self._keep(self.kc.get_iopub_msg(timeout=min(remaining, 0.1)))
            except queue.Empty:
                continue

    def _reply(self, msg_id: str, deadline: float) -> dict[str, Any]:
        while True:
            remaining = max(deadline - time.monotonic(), 0.1)
            msg = self.kc.get_shell_msg(timeout=remaining)
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg

    def run_ok(self, code: str, **kwargs: Any) -> ExecResult:
        return self.execute(code, **kwargs).check_ok()

    # ----------------------------------------------------------------- namespace

    def evaluate(self, expression: str) -> Any:
        """Evaluate one expression silently; return its value (via repr and literal_eval)."""
        res = self.execute("", silent=True, user_expressions={"value": expression})
        value = res.user_expressions["value"]
        if value["status"] != "ok":
            raise AssertionError(
                f"evaluating {expression!r} failed: {value.get('ename')}: {value.get('evalue')}"
            )
        return ast.literal_eval(value["data"]["text/plain"])

    def snapshot(self) -> dict[str, Any]:
        """The user namespace (names not starting with '_', minus the kernel's own), canonical."""
        return json.loads(self.evaluate(_SNAPSHOT_EXPR))

    def reset(self, seed: int = 12345) -> None:
        """Fresh namespace (``%reset -f``), with the global random generators re-seeded."""
        self.run_ok("%reset -f", silent=True, store_history=False)
        self.run_ok(
            f"__import__('random').seed({seed}); __import__('numpy').random.seed({seed})",
            silent=True,
            store_history=False,
        )
        leftovers = self.snapshot()["names"]
        assert leftovers == {}, f"namespace not empty after reset: {sorted(leftovers)}"
