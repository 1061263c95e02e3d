"""check_compiles raises and warns as compiling the whole cell does, while compiling less."""

import ast
import random
import warnings

import pytest

from kernel_ext.analysis import analyze_cell
from kernel_ext.analysis.syntax import _to_compile, check_compiles

FLAGS = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


def compiled(source: str) -> list[str]:
    """The statements check_compiles compiles, unparsed."""
    return [ast.unparse(stmt) for stmt in _to_compile(source, ast.parse(source))]


def outcome(compile_it):
    """The error raised (if any) and the warnings given, by `compile_it()`."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            compile_it()
            error = None
        except SyntaxError as e:
            error = (e.msg, e.lineno, e.offset)
    return error, [(str(w.message), w.category, w.lineno) for w in caught]


def compile_whole(source: str) -> None:
    """What the analysis did before: compile the whole tree, and the source on an error."""
    try:
        compile(ast.parse(source), "<cell>", "exec", flags=FLAGS, dont_inherit=True)
    except SyntaxError:
        compile(source, "<cell>", "exec", flags=FLAGS, dont_inherit=True)
        raise


def test_a_cell_of_assignments_calls_and_loops_is_not_compiled():
    source = (
        "x = f(a, *b, k=1) + y.m()[0]\n"
        "for i in range(3):\n"
        "    items.append(i)\n"
        "print(x[1:2], {k: v for k, v in d.items()}, x is None)\n"
    )
    assert compiled(source) == []


def test_statements_a_compiler_check_looks_at_are_compiled_on_their_own():
    source = "x = 1\ndef f():\n    return x\ny = x is 1\nz = g(a=1, b=2)\nfrom m import n\n"
    assert compiled(source) == ["def f():\n    return x", "y = x is 1", "from m import n"]


@pytest.mark.parametrize(
    "source",
    ["x = 1\nif c:\n    global x\n", "x = 1\nfrom __future__ import annotations\n", "__debug__\n"],
)
def test_a_global_declaration_a_future_import_or_debug_compiles_the_whole_cell(source):
    tree = ast.parse(source)
    assert _to_compile(source, tree) == tree.body


@pytest.mark.parametrize(
    "source",
    [
        "x = 1\nreturn x\n",
        "for i in y:\n    pass\nelse:\n    break\n",
        "x = 1\nglobal x\n",
        "x = 1\nfrom __future__ import annotations\n",
        "f(a=1, a=2)\n",
        "a, *b, *c = x\n",
        "x.__debug__ = 1\n",
        "y = [(v := 1) for v in x]\n",
        "with " + ", ".join(f"a{i}" for i in range(21)) + ":\n    pass\n",
    ],
)
def test_errors_the_parser_misses_are_raised_as_compiling_the_cell_raises(source):
    with pytest.raises(SyntaxError) as expected:
        compile(source, "<cell>", "exec", flags=FLAGS, dont_inherit=True)
    with pytest.raises(SyntaxError) as raised:
        analyze_cell(source, filename="<cell>")
    assert (raised.value.msg, raised.value.lineno, raised.value.offset) == (
        expected.value.msg, expected.value.lineno, expected.value.offset
    )


def test_syntax_warnings_are_the_ones_compiling_the_whole_cell_gives():
    source = "a = 1\nb = a is 1\nc = [1]('x')\nd = (1, 2)['k']\ne = f(a)\n"
    error, given = outcome(lambda: check_compiles(source, ast.parse(source), "<cell>", FLAGS))
    assert error is None and len(given) == 3
    assert (error, given) == outcome(lambda: compile_whole(source))


# Statements for random cells: most have no construct a compiler check looks at,
# the others are refused or warned about, alone or next to other statements.
_STATEMENTS = [
    "x = a + b * 2", "y = f(x, 1) % 10", "z = [v for v in range(x) if v]", "print('s', y)",
    "items.append(len(z))", "t['k'] = {k: x for k in 'ab'}", "s = str(y).upper()",
    "a, b = b, a", "del t['k']", "import os", "for i in z:\n    x += i",
    "while x:\n    x -= 1", "with open(p) as fh:\n    data = fh.read()", "if a:\n    b = 1",
    "x = a if b else c", "f(*z, k=1)", "w = f'{x!r:>{y}}'", "n = x is None",
    "x = 1 is a", "y = (1)()", "q = [1]['a']", "return x", "break", "global x",
    "from __future__ import annotations", "f(k=1, k=2)", "a, *b, *c = z", "*a = z",
    "def g(v):\n    return v", "def g(v, v):\n    pass", "lambda: (yield)", "await f()",
    "class K:\n    m = 1", "try:\n    pass\nexcept:\n    pass\nexcept E:\n    pass",
    "assert (x, 'why')", "nonlocal x", "y = [(v := 1) for v in z]", "async for v in z:\n    pass",
]


def test_random_cells_raise_and_warn_as_compiling_the_whole_cell():
    rnd = random.Random(20261122)
    skipped_some = 0
    for _ in range(400):
        source = "\n".join(rnd.choice(_STATEMENTS) for _ in range(rnd.randint(1, 8))) + "\n"
        tree = ast.parse(source)
        skipped_some += len(_to_compile(source, tree)) < len(tree.body)
        new = outcome(lambda: check_compiles(source, tree, "<cell>", FLAGS))  # noqa: B023
        assert new == outcome(lambda: compile_whole(source)), source  # noqa: B023
    assert skipped_some > 100  # not vacuous: most cells leave statements uncompiled
