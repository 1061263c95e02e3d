"""Per-statement facts: what one statement reads, binds and changes in place."""

import ast

from kernel_ext.analysis.names import Env, body_facts, statement_facts

ENV = Env(modules=frozenset({"np", "os"}), qualnames={"np": "numpy", "os": "os"})


def facts(src, env=ENV, is_last=False):
    return statement_facts(ast.parse(src).body[0], env, is_last=is_last)


def test_assignment_reads_right_side_and_binds_targets():
    f = facts("a, *b = c + d")
    assert f.reads == {"c", "d"} and f.binds == {"a", "b"}


def test_augmented_assignment_reads_binds_and_changes_in_place():
    f = facts("x += y")
    assert {"x", "y"} <= f.reads and f.binds == {"x"} and f.mutates == {"x"}


def test_annotated_assignment_binds_target_and_annotations():
    f = facts("x: int = y")
    assert f.binds == {"x", "__annotations__"} and {"y", "int"} <= f.reads


def test_del_of_name_binds_it_and_del_of_item_changes_the_container():
    assert facts("del x").binds == {"x"}
    assert facts("del x[i]").mutates == {"x"}


def test_attribute_and_item_assignment_change_the_root_object():
    assert facts("x.a.b = 1").mutates == {"x"}
    assert facts("x[i][j] = 1").mutates == {"x"}


def test_method_call_changes_its_receiver_but_not_a_module():
    assert facts("y = x.a.b.c()").mutates == {"x"}
    assert facts("y = np.mean(a)").mutates == frozenset()


def test_import_binds_alias_or_top_package():
    assert facts("import os.path").binds == {"os"}
    assert facts("import numpy as np").binds == {"np"}
    assert facts("from m import a as b, c").binds == {"b", "c"}


def test_star_import_is_opaque():
    assert facts("from m import *").opaque


def test_def_binds_name_reads_decorators_and_defaults_but_not_body():
    f = facts("@deco\ndef f(a=default):\n    return hidden\n")
    assert f.binds == {"f"} and f.reads == {"deco", "default"}
    assert [fn.name for fn in f.functions] == ["f"]


def test_class_body_runs_now_but_methods_later():
    f = facts("class C(Base):\n    x = k\n    def m(self):\n        return later\n")
    assert f.binds == {"C"} and f.reads == {"Base", "k"}


def test_comprehension_variables_are_local_but_walrus_binds_in_cell():
    f = facts("r = [y := x * k for x in xs]")
    assert f.reads == {"xs", "k"} and f.binds == {"r", "y"}


def test_for_with_except_and_match_bind_their_names():
    assert facts("for i, j in pairs:\n    pass").binds == {"i", "j"}
    assert "f" in facts("with open(p) as f:\n    pass").binds
    assert "e" in facts("try:\n    pass\nexcept E as e:\n    pass").binds
    src = "match v:\n    case [a, *rest]:\n        pass\n    case {'k': b, **kw}:\n        pass\n"
    assert facts(src).binds >= {"a", "rest", "b", "kw"}


def test_discarded_call_is_an_effect_that_may_change_its_arguments():
    f = facts("f(x, y)")
    assert f.effect and f.discarded_call and f.mutates >= {"x", "y"}


def test_final_call_is_ordered_like_other_discarded_calls():
    # A bare call on the last line is shown, but it is made for what it does too.
    f = facts("f(x)", is_last=True)
    assert f.effect and f.mutates >= {"x"} and not f.discarded_call


def test_final_name_is_not_an_effect():
    assert not facts("x", is_last=True).effect


def test_discarded_name_is_harmless():
    assert not facts("x").effect


def test_print_open_and_random_are_effects():
    assert facts("y = print(1)").effect
    assert facts("y = open(p).read()").effect
    assert facts("y = np.random.rand()").effect
    assert not facts("y = np.random.default_rng(0)").effect


def test_exec_eval_globals_and_get_ipython_are_opaque():
    for src in ("exec(s)", "y = eval(s)", "g = globals()", "v = vars()", "d = dir()"):
        assert facts(src).opaque, src
    assert facts("get_ipython().run_line_magic('time', 'x')").opaque
    assert not facts("d = dir(x)").opaque


def test_top_level_global_and_await_are_opaque():
    assert facts("global x").opaque
    assert facts("await f()").opaque


def test_user_name_shadowing_a_builtin_is_not_the_builtin():
    env = Env(user_names=frozenset({"print"}))
    assert not facts("y = print(1)", env).effect


def test_function_body_reads_globals_and_writes_declared_globals():
    node = ast.parse("def f(a):\n    global g\n    g = a + k\n    L.append(a)\n").body[0]
    f = body_facts(node, ENV)
    assert f.reads >= {"k", "L"} and "a" not in f.reads
    assert f.binds == {"g"} and f.mutates == {"L"}


def test_lambda_body_facts_exclude_parameters():
    node = ast.parse("lambda v: v * k").body[0].value
    assert body_facts(node, ENV).reads == {"k"}
