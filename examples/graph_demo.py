"""The Dask documentation's load/clean/analyze/store graph, run by kernel_ext on every backend.

Each load sleeps 0.2 s, so the three loads take 0.2 s in parallel and 0.6 s in a row.
"""

import time

import kernel_ext


def load(filename: str) -> str:
    time.sleep(0.2)
    return f"data of {filename}"


def clean(data: str) -> str:
    return data.upper()


def analyze(sequence_of_data: list[str]) -> int:
    return sum(len(d) for d in sequence_of_data)


def store(result: int) -> str:
    return f"stored {result}"


dsk = {
    "load-1": (load, "myfile.a.data"),
    "load-2": (load, "myfile.b.data"),
    "load-3": (load, "myfile.c.data"),
    "clean-1": (clean, "load-1"),
    "clean-2": (clean, "load-2"),
    "clean-3": (clean, "load-3"),
    "analyze": (analyze, [f"clean-{i}" for i in [1, 2, 3]]),
    "store": (store, "analyze"),
}

if __name__ == "__main__":
    for backend in ("threads", "processes", "sync"):
        start = time.perf_counter()
        result = kernel_ext.get(dsk, "store", backend=backend, num_workers=3)
        print(f"{backend:>9}: {result!r} in {time.perf_counter() - start:.2f} s")
