"""``print`` while another thread ends the output routing must not crash the kernel.

CPython 3.11's ``print`` holds ``sys.stdout`` without a reference of its own while it
calls ``write`` twice (the text, then the end). A background job that ended in between
put the kernel's stream back from its own thread; the routing stream, made for the
occasion, was freed under the printing cell, whose second write went through freed
memory: the kernel died of SIGSEGV (seen in the test suite and in long soaks), or the
end of the line went to whatever object took the memory. Each case runs in a fresh
interpreter, so a crash fails the test instead of the test run.
"""

from __future__ import annotations

import subprocess
import sys

PRELUDE = r'''
import sys, threading

class Recording:
    def __init__(self, name):
        self.name, self.parts = name, []
    def write(self, text):
        self.parts.append(text)
        return len(text)
    def flush(self):
        pass

class EndsOnFirstWrite(Recording):
    """The kernel's stream: its first write lets another thread end the routing."""
    def __init__(self, name, end):
        super().__init__(name)
        self.end = end
    def write(self, text):
        first = not self.parts
        super().write(text)
        if first:  # between print's two writes, as a background job ending would
            thread = threading.Thread(target=self.end, name="kernel_ext-test-end")
            thread.start()
            thread.join()
        return len(text)

squatters = []  # objects made just after the end, which would take freed memory
'''

ROUTING = PRELUDE + r'''
from kernel_ext.cell import output

def end():
    output.release_routing()
    squatters.extend(output._RoutingStream("stdout", Recording("squatter")) for _ in range(64))

kernel = EndsOnFirstWrite("kernel", end)
sys.stdout = kernel
output.acquire_routing(None)
print("job 5")
sys.stdout = sys.__stdout__
stray = [part for s in squatters for part in s._target.parts]
print(repr("".join(kernel.parts)), repr(stray))
'''

SHARED_CAPTURE = PRELUDE + r'''
from kernel_ext.cell import worker_capture

capture = worker_capture._SharedCapture()
held = capture.held()

def end():
    held.__exit__(None, None, None)
    squatters.extend(worker_capture._RoutedStream("stdout", capture, Recording("squatter"))
                     for _ in range(64))

kernel = EndsOnFirstWrite("kernel", end)
sys.stdout = kernel
held.__enter__()
print("job 5")
sys.stdout = sys.__stdout__
stray = [part for s in squatters for part in s._original.parts]
print(repr("".join(kernel.parts)), repr(stray))
'''


def _run(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)


def test_print_survives_a_background_job_ending_the_routing_mid_print() -> None:
    result = _run(ROUTING)
    assert result.returncode == 0, (result.returncode, result.stderr[-3000:])
    assert result.stdout.strip() == "'job 5\\n' []", result.stdout


def test_print_survives_shared_capture_ending_mid_print() -> None:
    """The same for the capture that statements on a Dask cluster's threads share."""
    result = _run(SHARED_CAPTURE)
    assert result.returncode == 0, (result.returncode, result.stderr[-3000:])
    assert result.stdout.strip() == "'job 5\\n' []", result.stdout
