"""Pickling for shipped statements: cloudpickle that keeps the code's file names.

cloudpickle renames every code object it sends to ``<dynamic-code>``, so a
warning or error raised in a worker inside a notebook function would name
that instead of the cell it was defined in (the plain cell names the cell).
Code objects are sent here with :mod:`marshal`, which keeps every field; the
kernel and its workers run the same interpreter, so marshal's format matches.

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


def _reduce_code(code: types.CodeType) -> tuple[Any, tuple[bytes]]:
    return marshal.loads, (marshal.dumps(code),)


class _Pickler(cloudpickle.Pickler):
    dispatch_table = ChainMap({types.CodeType: _reduce_code}, cloudpickle.Pickler.dispatch_table)


def dumps(value: Any) -> bytes:
    """Pickle ``value`` like cloudpickle does, keeping code objects' file names."""
    with io.BytesIO() as buffer:
        _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
        return buffer.getvalue()


def loads(data: bytes) -> Any:
    return pickle.loads(data)

