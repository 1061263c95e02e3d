"""Every case of the differential suite, with ids ``<kind>.<name>``."""

from __future__ import annotations

import dataclasses

from plain_vs_parallel import Case

from differential import (
    cases_aliasing,
    cases_control,
    cases_errors,
    cases_finalizers,
    cases_functions,
    cases_inplace_loops,
    cases_iterators,
    cases_last_line,
    cases_loop_variable,
    cases_objects,
    cases_objects_more,
    cases_objects_reach,
    cases_process_options,
    cases_process_state,
    cases_strings,
    cases_thread_output,
)

MODULES = (
    cases_functions,
    cases_objects,
    cases_objects_more,
    cases_objects_reach,
    cases_iterators,
    cases_loop_variable,
    cases_inplace_loops,
    cases_process_state,
    cases_process_options,
    cases_finalizers,
    cases_thread_output,
    cases_aliasing,
    cases_last_line,
    cases_strings,
    cases_errors,
    cases_control,
)
# process-wide state is one kind, in two modules
KINDS = tuple(dict.fromkeys(m.KIND for m in MODULES))

ALL_CASES: list[Case] = [
    dataclasses.replace(c, id=f"{m.KIND}.{c.id}") for m in MODULES for c in m.CASES
]
