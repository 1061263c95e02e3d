"""Static analysis of `%%parallel` cells: which statements may run at once.

Pure analysis: no execution.  `analyze_cell` turns cell source (and the user
namespace, when available) into a `CellPlan` of statements with dependency
edges and the names that caused them, plus fan-out descriptions for loops and
comprehensions whose iterations are independent.
"""

from kernel_ext.analysis.fanout import Accumulator, AccumulatorKind, FanOut, FanOutKind
from kernel_ext.analysis.plan import EFFECT, OPAQUE, OUTPUT, CellPlan, Edge, Statement, analyze_cell

__all__ = [
    "EFFECT",
    "OPAQUE",
    "OUTPUT",
    "Accumulator",
    "AccumulatorKind",
    "CellPlan",
    "Edge",
    "FanOut",
    "FanOutKind",
    "Statement",
    "analyze_cell",
]
