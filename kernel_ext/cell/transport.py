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


def dumps(value: Any) -> bytes:
    """Pickle ``value`` like cloudpickle does, keeping code objects' file names."""
    with io.BytesIO() as buffer:
        _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
        return buffer.getvalue()


def loads(data: bytes) -> Any:
    return pickle.loads(data)

