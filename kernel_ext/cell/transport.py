"""Pickling for shipped statements: cloudpickle that keeps the code's file names.

cloudpickle renames every code object it sends to ``<dynamic-code>``, so a
warning or error raised in a worker inside a notebook function would name
that instead of the cell it was defined in (the plain cell names the cell).
Code objects are sent here with their file name put back.

The kernel pickles a shipped statement's inputs itself (rather than letting
the pool do it) so that the worker holds the exact bytes it received: it can
tell afterwards, by pickling the inputs again, whether the statement changed
one of them in place.
"""

from __future__ import annotations

import io
import marshal
import pickle
import sys
import types
from collections import ChainMap
from typing import Any

import cloudpickle

_cloudpickle_code_reduce = getattr(cloudpickle.cloudpickle, "_code_reduce", None)


def _reduce_code(code: types.CodeType) -> tuple[Any, tuple[Any, ...]]:
    """cloudpickle's own reduction with the real file name put back (it is repeatable: the
    worker compares pickles to find changed inputs); marshal if cloudpickle changes."""
    if _cloudpickle_code_reduce is None:
        return marshal.loads, (marshal.dumps(code),)
    constructor, args = _cloudpickle_code_reduce(code)
    return constructor, tuple(
        code.co_filename if isinstance(arg, str) and arg == "<dynamic-code>" else arg
        for arg in args
    )


class _Pickler(cloudpickle.Pickler):
    dispatch_table = ChainMap({types.CodeType: _reduce_code}, cloudpickle.Pickler.dispatch_table)


class DetachedFunction(Exception):
    """A result holds a function whose globals are not a module's (notebook code)."""


class _ResultPickler(_Pickler):
    """Refuses functions that would come back with globals of their own, detached from the
    kernel's namespace (cloudpickle sends such functions by value)."""

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is types.FunctionType:
            module = sys.modules.get(obj.__module__ or "")
            if module is None or module.__name__ == "__main__" or obj.__globals__ is not vars(
                    module):
                raise DetachedFunction(obj.__qualname__)
        return super().reducer_override(obj)


# Values pickled the same by plain pickle and cloudpickle (a loop's usual elements).
_PLAIN = frozenset({int, float, complex, bool, str, bytes, type(None)})


def dumps(value: Any, *, result: bool = False) -> bytes:
    """Pickle ``value`` like cloudpickle does, keeping code objects' file names.

    ``result``: raise :class:`DetachedFunction` for functions defined outside modules.
    A result is tried with plain pickle first (5x faster, and it matters for the
    many small results of a loop's iterations): it sends functions and classes by
    reference only, and fails on what cloudpickle would send by value, which then
    goes the cloudpickle way and its checks.
    """
    if type(value) in _PLAIN:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)  # the same bytes, 30x faster
    if result:
        try:
            return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001, S110 - anything plain pickle refuses: see below
            pass
    with io.BytesIO() as buffer:
        pickler = _ResultPickler if result else _Pickler
        pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
        return buffer.getvalue()


def loads(data: bytes) -> Any:
    return pickle.loads(data)

