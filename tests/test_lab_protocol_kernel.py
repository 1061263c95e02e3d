"""The kernel side of the lab extension's protocol, against a real kernel (jupyter_client).

The client in ``lab_client`` speaks raw Jupyter messages as JupyterLab does:
it finds kernel_ext with ``comm_info_request``, opens the comm on a subshell
of its own and sends the declared commands.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kernel_session import KernelSession
from lab_client import LabClient

from kernel_ext.lab.protocol import KERNEL_MESSAGES, RECORDS, typescript

pytestmark = pytest.mark.timeout(180)

REPO = Path(__file__).resolve().parent.parent

FAN_OUT = """\
%%parallel --background --workers 2
import time
def slow(i):
    time.sleep({pause})
    return i
results = []
for i in range({n}):
    results.append(slow(i))
total = sum(results)
"""


@pytest.fixture(scope="module")
def kernel():
    with KernelSession() as session:
        session.run_ok("%load_ext kernel_ext")
        yield session


def execute_in_cell(session: KernelSession, code: str, cell_id: str) -> str:
    """Send ``code`` as JupyterLab does, with the cell's id in the request's metadata."""
    msg = session.kc.session.msg("execute_request", {
        "code": code, "silent": False, "store_history": True, "user_expressions": {},
        "allow_stdin": False, "stop_on_error": True})
    msg["metadata"]["cellId"] = cell_id
    session._sent_at = time.monotonic()
    session.kc.shell_channel.send(msg)
    return str(msg["header"]["msg_id"])


def attached(kernel: KernelSession, refresh: float = 0.2) -> LabClient:
    """A frontend that has opened its comm and received the kernel's snapshot."""
    client = LabClient(kernel)
    client.open(refresh=refresh)
    client.wait_for(lambda d: d["type"] == "snapshot")
    return client


def check_job_info(info: dict) -> None:
    assert set(info) == set(RECORDS["JobInfo"]), info


def test_a_kernel_without_kernel_ext_answers_discovery_with_no_comm():
    with KernelSession() as session:
        client = LabClient(session)
        assert client.comm_info() == {}
        session.run_ok("%load_ext kernel_ext")
        comms = client.comm_info()
        assert [c["target_name"] for c in comms.values()] == ["kernel_ext.jobs"]
        session.run_ok("%reload_ext kernel_ext")
        assert len(client.comm_info()) == 1  # one marker, not one per load


def test_hello_then_snapshot_then_live_updates_and_one_end(kernel):
    client = LabClient(kernel)
    client.open(refresh=0.2)
    hello = client.wait_for(lambda d: d["type"] == "hello")
    assert hello["protocol"] == 1 and hello["refresh"] == 0.2
    assert client.wait_for(lambda d: True)["type"] == "snapshot"

    msg_id = execute_in_cell(kernel, FAN_OUT.format(pause=0.2, n=30), cell_id="cell-abc")
    kernel.collect(msg_id).check_ok()
    running = client.job(lambda j: j["kind"] == "background" and j["total"] >= 30
                         and 0 < j["done"] < j["total"] and j["state"] == "running"
                         and j["time_left"] is not None)
    check_job_info(running)
    assert running["cell_id"] == "cell-abc"
    assert running["first_line"] == "import time"
    assert running["workers"] == 2 and running["backend"] == "threads"
    assert 0 < running["time_left"] < 10  # 30 x 0.2 s on 2 workers: about 3 s in all
    ended = client.wait_for(lambda d: d["type"] == "job_ended")["job"]
    assert ended["id"] == running["id"] and ended["state"] == "finished"
    assert ended["done"] == ended["total"] and ended["ended"] is not None
    time.sleep(1.0)
    ends = [d for d in client.received() if d["type"] == "job_ended"
            and d["job"]["id"] == running["id"]]
    assert len(ends) == 1
    assert kernel.evaluate("total") == sum(range(30))


def test_cancel_a_background_job_while_a_plain_foreground_cell_runs(kernel):
    client = attached(kernel)
    kernel.run_ok(FAN_OUT.format(pause=0.3, n=200))
    job = client.job(lambda j: j["state"] == "running" and j["kind"] == "background")
    busy = kernel.send("import time\ntime.sleep(15)")  # the main shell is busy from now on
    time.sleep(0.5)
    asked = time.monotonic()
    request = client.request("cancel_job", job_id=job["id"])
    reply = client.reply_to(request, timeout=5)
    assert reply["ok"] is True and "cancel requested" in reply["message"]
    cancelled = client.job(lambda j: j["id"] == job["id"] and j["state"] == "cancelled",
                           timeout=8)
    assert time.monotonic() - asked < 8  # long before the 15 s foreground cell ends
    assert cancelled["done"] < 200
    again = client.reply_to(client.request("cancel_job", job_id=job["id"]))
    assert again["ok"] is False and "already ended" in again["message"]
    unknown = client.reply_to(client.request("cancel_job", job_id="bg-999"))
    assert unknown["ok"] is False and "no job 'bg-999'" in unknown["message"]
    kernel.interrupt()
    kernel.messages_for(busy, timeout=30, until=lambda ms: any(
        m["msg_type"] == "status" and m["content"]["execution_state"] == "idle" for m in ms))


def test_cancel_a_running_foreground_cell_from_the_panel(kernel):
    client = attached(kernel)
    kernel.run_ok("import time\ndef nap(i):\n    time.sleep(0.5)\n    return i\n")
    msg_id = kernel.send("%%parallel --workers 2\nfirst = 1\n"
                         "slept = [nap(i) for i in range(60)]\nafter = 2\n")
    job = client.job(lambda j: j["kind"] == "foreground" and j["state"] == "running"
                     and j["done"] >= 2)
    asked = time.monotonic()
    reply = client.reply_to(client.request("cancel_job", job_id=job["id"]), timeout=5)
    assert reply["ok"] and "the cell In[" in reply["message"]
    # The client's reads of iopub keep the cell's messages aside: look there, not at new ones.
    messages = kernel.messages_for(msg_id, timeout=30, until=lambda ms: any(
        m["msg_type"] == "status" and m["content"]["execution_state"] == "idle" for m in ms))
    assert time.monotonic() - asked < 10  # not the 15 s the cell would take
    errors = [m["content"]["ename"] for m in messages if m["msg_type"] == "error"]
    assert errors == ["JobCancelledError"]
    ended = client.job(lambda j: j["id"] == job["id"] and j["state"] == "cancelled")
    assert ended["done"] < ended["total"]
    assert kernel.evaluate("first") == 1
    assert kernel.execute("after").error.ename == "NameError"  # as the stopped plain cell


def test_undeclared_and_malformed_messages_are_refused_and_never_run(kernel, tmp_path):
    client = attached(kernel)
    marker = tmp_path / "ran"
    client.send({"type": "execute", "request_id": "r1",
                 "code": f"open({str(marker)!r}, 'w').close()"})
    refused = client.wait_for(lambda d: d["type"] == "error")
    assert refused["request_id"] == "r1"
    assert "unknown message type 'execute'" in refused["message"]
    client.send({"type": "cancel_job", "request_id": "r2"})  # no job_id
    missing = client.wait_for(lambda d: d["type"] == "error")
    assert missing["request_id"] == "r2" and "'job_id'" in missing["message"]
    client.send(["not", "an", "object"])
    assert "JSON object" in client.wait_for(lambda d: d["type"] == "error")["message"]
    assert not marker.exists()
    assert kernel.run_ok("1 + 1").results  # the kernel still serves cells


def test_a_comm_opened_without_a_hello_is_refused_and_closed(kernel):
    client = LabClient(kernel)
    client.open(data={"type": "get_jobs", "request_id": "x"})
    refused = client.wait_for(lambda d: d["type"] == "error")
    assert "opens with a hello" in refused["message"]
    deadline = time.monotonic() + 10
    while not any(m["msg_type"] == "comm_close" and m["content"]["comm_id"] == client.comm_id
                  for m in kernel.comm_messages):
        assert time.monotonic() < deadline, "the kernel never closed the refused comm"
        client.received()


def test_foreground_cells_are_listed_with_their_outcome(kernel):
    client = attached(kernel)
    result = kernel.execute("%%parallel\na = 1\nraise ValueError('bad row')\n")
    assert result.error is not None
    failed = client.job(lambda j: j["kind"] == "foreground" and j["state"] == "failed")
    assert failed["error"] == "failed at line 2: ValueError: bad row"
    assert failed["number"] is None and failed["execution_count"] is not None
    assert failed["id"].startswith("fg-")


def test_a_frontend_that_reconnects_gets_the_running_job_and_no_stale_ends(kernel):
    first = attached(kernel)
    kernel.run_ok(FAN_OUT.format(pause=0.2, n=40))
    job = first.job(lambda j: j["state"] == "running" and j["kind"] == "background")
    first.close()  # the page goes away mid-job
    second = LabClient(kernel)
    second.open()
    snapshot = second.wait_for(lambda d: d["type"] == "snapshot")
    listed = {j["id"]: j for j in snapshot["jobs"]}
    assert listed[job["id"]]["state"] == "running"
    ended = second.wait_for(lambda d: d["type"] == "job_ended", timeout=30)["job"]
    assert ended["id"] == job["id"]  # the only end it hears of is the job that ended now
    assert [d["job"]["id"] for d in second.received() if d["type"] == "job_ended"] == [job["id"]]


def test_finished_jobs_are_capped_and_can_be_cleared():
    with KernelSession() as session:
        session.run_ok("%load_ext kernel_ext")
        for i in range(55):
            session.run_ok(f"%%parallel\nv{i} = {i}\n")
        client = LabClient(session)
        client.open()
        jobs = client.wait_for(lambda d: d["type"] == "snapshot")["jobs"]
        assert len(jobs) == 50
        assert jobs[-1]["first_line"] == "v54 = 54" and jobs[0]["first_line"] == "v5 = 5"
        reply = client.reply_to(client.request("clear_finished"))
        assert reply["ok"] and reply["message"] == "cleared 50 finished jobs"
        client.request("get_jobs")
        assert client.wait_for(lambda d: d["type"] == "snapshot")["jobs"] == []


def test_a_big_job_sends_no_more_than_one_update_per_refresh(kernel):
    client = attached(kernel, refresh=0.5)
    started = time.monotonic()
    kernel.run_ok("%%parallel --background\n"
                  "def tiny(i):\n    return i * 2\n"
                  "out = [tiny(i) for i in range(20000)]\n"
                  "import time\ntime.sleep(2)\n")
    client.wait_for(lambda d: d["type"] == "job_ended", timeout=60)
    seconds = time.monotonic() - started
    updates = [d for d in client.received() if d["type"] == "jobs_updated"]
    assert 1 <= len(updates) <= seconds / 0.5 + 3, (len(updates), seconds)


def test_the_typescript_protocol_is_generated_from_the_python_one():
    committed = (REPO / "labextension" / "src" / "protocol.ts").read_text()
    assert committed == typescript(), (
        "labextension/src/protocol.ts is out of date: "
        "python -m kernel_ext.lab.protocol > labextension/src/protocol.ts")
    for kind in KERNEL_MESSAGES:
        assert f"type: '{kind}';" in committed


def test_terminal_ipython_loads_kernel_ext_without_a_comm():
    code = ("from IPython.testing.globalipapp import start_ipython\n"
            "ip = start_ipython()\nip.run_line_magic('load_ext', 'kernel_ext')\n"
            "ip.run_cell('%%parallel\\nx = 2\\n')\nprint(ip.user_ns['x'])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("2")
