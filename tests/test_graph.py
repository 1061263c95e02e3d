"""The graph model, Dask graph dicts, and the errors a bad graph or option gives before running."""

from __future__ import annotations

import functools
from operator import add, mul

import dask
import dask.threaded
import pytest
from dask.utils_test import GetFunctionTestMixin

import kernel_ext
from kernel_ext import (
    Call,
    CycleError,
    Graph,
    MissingKeyError,
    NotCallableError,
    Ref,
    Task,
    UnknownKeyError,
)

BACKENDS = ["threads", "processes", "sync"]


def inc(x):
    return x + 1


def load(filename):
    return f"data of {filename}"


def clean(data):
    return data.upper()


def analyze(sequence_of_data):
    return " | ".join(sequence_of_data)


def store(result):
    return ("stored", result)


DOCS_EXAMPLE = {
    "load-1": (load, "myfile.a.data"),
    "load-2": (load, "myfile.b.data"),
    "load-3": (load, "myfile.c.data"),
    "clean-1": (clean, "load-1"),
    "clean-2": (clean, "load-2"),
    "clean-3": (clean, "load-3"),
    "analyze": (analyze, ["clean-%d" % i for i in [1, 2, 3]]),  # noqa: UP031 - as in the docs
    "store": (store, "analyze"),
}


@pytest.mark.parametrize("backend", BACKENDS)
def test_docs_example_runs_on_every_backend(backend):
    expected = (
        "stored",
        "DATA OF MYFILE.A.DATA | DATA OF MYFILE.B.DATA | DATA OF MYFILE.C.DATA",
    )
    assert kernel_ext.get(DOCS_EXAMPLE, "store", backend=backend) == expected
    assert dask.threaded.get(DOCS_EXAMPLE, "store") == expected


def _identity(*args):
    return args


# (graph, keys) pairs covering Dask's classic spec: literals, key references,
# aliases, nested tasks, lists (nested, at top level, in arguments), tuple keys,
# unhashable literals, tuples inside arguments, and nested output key lists.
CONFORMANCE_CASES = {
    "chain": ({"x": 1, "y": (inc, "x"), "z": (add, "x", "y")}, "z"),
    "list of keys": ({"x": 1, "y": (inc, "x"), "z": (add, "x", "y")}, ["z", "x"]),
    "nested list of keys": ({"x": 1, "y": (inc, "x"), "z": (add, "x", "y")}, [["z"], ["x", "y"]]),
    "alias chain": ({"x": 1, "a": "x", "b": "a"}, ["a", "b"]),
    "nested tasks": ({"x": 2, "y": (add, (inc, "x"), (mul, 10, (inc, "x")))}, "y"),
    "list argument": ({"x": 1, "y": 2, "z": (sum, ["x", "y", 3])}, "z"),
    "nested list argument": ({"x": 1, "z": (_identity, ["x", ["x", [5]]])}, "z"),
    "tasks inside a list": ({"x": 1, "z": (_identity, [(inc, "x"), [(inc, (inc, "x"))]])}, "z"),
    "top-level list value": (
        {"a": [1, 2, 3], "c": [1, (inc, 1)], "e": ["a", "c"]},
        ["a", "c", "e"],
    ),
    "tuple keys": ({("x", 0): 1, ("x", 1): 2, "y": (add, ("x", 0), ("x", 1))}, ["y", ("x", 1)]),
    "tuple inside arguments": ({"x": 1, "y": (_identity, (5, "x"), "x")}, "y"),
    "string that is not a key is a literal": ({"x": 1, "y": (_identity, "hello", "x")}, "y"),
    "unhashable literal": ({"x": 1, "y": (lambda x, s: x + len(s), "x", {1, 2})}, "y"),
    "dict argument is a literal": ({"x": 1, "y": (_identity, {"a": "x"})}, "y"),
    "integer keys": ({1: 10, 2: (inc, 1), 3: (add, 1, 2)}, [3, 2]),
    "empty tuple literal": ({"x": ()}, "x"),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", list(CONFORMANCE_CASES))
def test_dask_graph_dicts_give_the_same_results_as_dask(case, backend):
    dsk, keys = CONFORMANCE_CASES[case]
    expected = dask.threaded.get(dsk, keys)
    assert kernel_ext.get(dsk, keys, backend=backend) == expected


# Dask's own test suite for its ``get`` functions, run against every backend.
class TestDaskGetFunctionSuiteOnThreads(GetFunctionTestMixin):
    get = staticmethod(functools.partial(kernel_ext.get, backend="threads"))


class TestDaskGetFunctionSuiteOnSync(GetFunctionTestMixin):
    get = staticmethod(functools.partial(kernel_ext.get, backend="sync"))


class TestDaskGetFunctionSuiteOnProcesses(GetFunctionTestMixin):
    get = staticmethod(functools.partial(kernel_ext.get, backend="processes", num_workers=2))
    # Not repeated on processes: a 10,000-task chain, already run on the other backends.
    test_get_stack_limit = None


def test_a_list_of_keys_gives_a_tuple_like_dask():
    dsk = {"x": 1, "y": 2}
    assert kernel_ext.get(dsk, ["x", "y"]) == dask.threaded.get(dsk, ["x", "y"]) == (1, 2)
    assert kernel_ext.get(dsk, [["x"], "y"]) == ((1,), 2)


def test_refs_inside_lists_tuples_and_dicts_are_replaced_by_values():
    graph = Graph(
        [
            Task("a", lambda: 1),
            Task("b", lambda: 2),
            Task(
                "c",
                lambda xs, t, d, k=None: (xs, t, d, k),
                ([Ref("a"), [Ref("b")]], (Ref("a"), 5), {"n": Ref("b"), "m": [Ref("a")]}),
                kwargs={"k": Ref("b")},
            ),
        ]
    )
    assert graph.dependencies["c"] == ("a", "b")
    assert kernel_ext.get(graph, "c") == ([1, [2]], (1, 5), {"n": 2, "m": [1]}, 2)


def test_nested_call_is_evaluated_with_its_refs_resolved():
    graph = Graph(
        [
            Task("x", lambda: 3),
            Task("y", add, (Call(mul, (Ref("x"), 2)), Call(pow, (2,), {"exp": Ref("x")}))),
        ]
    )
    assert graph.dependencies["y"] == ("x",)
    assert kernel_ext.get(graph, "y") == 3 * 2 + 2**3


def test_order_only_deps_run_first_and_pass_no_value():
    seen = []
    graph = Graph(
        [
            Task("setup", lambda: seen.append("setup")),
            Task("use", lambda: seen.append("use") or len(seen), deps=frozenset({"setup"})),
        ]
    )
    assert kernel_ext.get(graph, "use", backend="threads") == 2
    assert seen == ["setup", "use"]


def test_group_defaults_to_the_function_name_and_meta_is_kept():
    graph = Graph(
        [
            Task("a", inc, (1,)),
            Task("b", functools.partial(add, 1), (Ref("a"),)),
            Task("c", lambda v: v, (Ref("b"),), group="stage 2", meta={"line": 7}),
        ]
    )
    assert [graph[k].group for k in "abc"] == ["inc", "add", "stage 2"]
    assert graph["c"].meta == {"line": 7}
    job = kernel_ext.submit(graph, "c")
    assert job.result(10) == 3
    assert job.group_of("a") == "inc"


def test_duplicate_keys_are_rejected():
    with pytest.raises(ValueError, match="two tasks share the key 'a'"):
        Graph([Task("a", inc, (1,)), Task("a", inc, (2,))])


# ---------------------------------------------------------------- bad graphs


def _recorder():
    ran = []

    def record(name, *args):
        ran.append(name)
        return name

    return ran, record


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_cycle_is_reported_with_its_keys_before_anything_runs(backend):
    ran, record = _recorder()
    dsk = {
        "start": (record, "ran start"),
        "a": (record, "ran a", "c"),
        "b": (record, "ran b", "a"),
        "c": (record, "ran c", "b"),
        "end": (record, "ran end", "start", "c"),
    }
    with pytest.raises(CycleError) as info:
        kernel_ext.get(dsk, "end", backend=backend)
    cycle = info.value.cycle
    assert cycle[0] == cycle[-1]
    assert set(cycle) == {"a", "b", "c"} and len(cycle) == 4
    dependencies = kernel_ext.from_dask(dsk).dependencies
    for key, next_key in zip(cycle, cycle[1:], strict=False):
        assert next_key in dependencies[key]
    message = str(info.value)
    assert "cycle" in message
    assert " -> ".join(repr(k) for k in cycle) in message
    assert ran == []


def test_a_task_depending_on_itself_is_a_cycle():
    ran, record = _recorder()
    with pytest.raises(CycleError) as info:
        kernel_ext.get({"a": (record, "ran a", "a")}, "a")
    assert info.value.cycle == ["a", "a"]
    assert ran == []


def test_a_missing_key_is_reported_before_anything_runs():
    ran, record = _recorder()
    graph_tasks = [Task("a", record, ("a",)), Task("b", record, ("b", Ref("nope")))]
    with pytest.raises(MissingKeyError) as info:
        kernel_ext.get(graph_tasks, "b")
    assert info.value.key == "nope" and info.value.needed_by == "b"
    assert "'b' depends on 'nope'" in str(info.value)
    assert isinstance(info.value, KeyError)
    assert ran == []


def test_a_requested_key_not_in_the_graph_is_reported_before_anything_runs():
    ran, record = _recorder()
    with pytest.raises(UnknownKeyError) as info:
        kernel_ext.get({"a": (record, "ran a")}, ["a", ["zzz"]])
    assert info.value.key == "zzz"
    assert "requested key 'zzz' is not in the graph" in str(info.value)
    assert ran == []


def test_a_task_that_is_not_callable_is_reported_before_anything_runs():
    ran, record = _recorder()
    # A top-level tuple whose head is not callable is a typo'd task here (Dask
    # would silently keep it as a literal tuple).
    with pytest.raises(NotCallableError) as info:
        kernel_ext.get({"a": (record, "ran a"), "b": ("record", "a")}, "a")
    assert info.value.key == "b"
    assert "'record' of type str, which is not callable" in str(info.value)
    with pytest.raises(NotCallableError, match="task 'c' would call 42"):
        Task("c", 42)
    assert ran == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"backend": "gpu"},
             "unknown backend 'gpu'; choose one of 'threads', 'processes', 'sync', 'dask'"),
        ({"num_workers": 0}, "num_workers must be a positive integer, not 0"),
        ({"num_workers": 1.5}, "num_workers must be a positive integer, not 1.5"),
        ({"retries": -1}, "retries must be a non-negative integer, not -1"),
    ],
)
def test_bad_options_are_rejected_with_a_clear_message(options, message):
    ran, record = _recorder()
    with pytest.raises(ValueError) as info:
        kernel_ext.get({"a": (record, "ran a")}, "a", **options)
    assert str(info.value) == message
    assert ran == []


def test_a_misspelled_option_is_an_error_not_ignored():
    with pytest.raises(TypeError, match="num_worker"):
        kernel_ext.get({"a": 1}, "a", num_worker=2)
