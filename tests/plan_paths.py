"""Paths through a cell plan's edges, shared by the analysis tests."""

from __future__ import annotations

from kernel_ext.analysis import CellPlan


def waits(plan: CellPlan, later: int, earlier: int) -> bool:
    """Whether statement `later` waits for statement `earlier`, directly or through others."""
    todo, seen = [later], set()
    while todo:
        for edge in plan.statements[todo.pop()].deps:
            if edge.before == earlier:
                return True
            if edge.before not in seen:
                seen.add(edge.before)
                todo.append(edge.before)
    return False
