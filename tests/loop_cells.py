"""The cell users write most, shared by the kernel and browser tests of loop views:
40 slow calls on 4 workers with the task stream and the graph, then a print."""

from __future__ import annotations


def fetch_setup(seconds: float) -> str:
    """Load kernel_ext and define ``fetch(i)``, which sleeps ``seconds`` and returns i."""
    return (f"%load_ext kernel_ext\nimport time\ndef fetch(i):\n"
            f"    time.sleep({seconds})\n    return i\n")


LOOP = """\
%%parallel --workers 4 --stream --graph
results = []
for i in range(40):
    results.append(fetch(i))
total = sum(results)
print(total)
"""
