"""The kernel's global random generators in a worker process: put in place, and checked.

A task shipped to a worker runs with the kernel's generator states (Python's
``random`` and numpy's legacy global one) put in place, and afterwards
:func:`drew_random` tells whether it drew from them: the kernel must then run
the task itself, so that its own generators advance as in the plain cell.

Both run for every task, so both read the generators' raw C structs (a
Mersenne Twister key and position, 2.5 kB, in about a microsecond) instead of
building ``getstate()`` tuples (7 µs for Python's, 30 µs for numpy's).

- Python's generator is put back only when it differs from the kernel's
  (struct and cached gaussian compared, before each task: unpickling the
  task may have imported a module that draws).
- numpy's cached gaussian cannot be read cheaply, so its ``set_state`` is
  skipped only when the last task was checked to have left the very state
  wanted. Whatever moved it since, the check after the task compares the raw
  state with the kernel's, so a wrong skip costs a rerun in the kernel, never
  a wrong draw.

Where a struct is not laid out as expected (another Python, a generator of
another kind), the layout check fails once and the ``getstate`` path is used.
"""

from __future__ import annotations

import array
import ctypes
import functools
import random
import sys
from collections.abc import Callable
from typing import Any

# CPython's RandomObject: the object header, ``int index``, then ``uint32_t state[624]``.
_PYTHON_RAW_OFFSET = object.__basicsize__
_PYTHON_RAW_BYTES = 4 + 624 * 4
# numpy's MT19937 struct: ``uint32_t key[624]; int pos``.
_MT19937_BYTES = 624 * 4 + 4
_UINT32 = next(code for code in "IL" if array.array(code).itemsize == 4)


def python_raw_of(state: Any) -> bytes | None:
    """``random.getstate()``'s generator part laid out as the C struct holds it."""
    try:
        version, internal, _gauss = state
        if version != 3 or len(internal) != 625:
            return None
        words = array.array(_UINT32, internal[:624])  # made once per state: ~5 µs
        return internal[624].to_bytes(4, sys.byteorder, signed=True) + words.tobytes()
    except (TypeError, ValueError, OverflowError, AttributeError):
        return None


def numpy_raw_of(numpy_state: Any) -> bytes:
    """``np.random.get_state()``'s key and position laid out as the C struct holds them."""
    key, pos = numpy_state[1], numpy_state[2]
    return bytes(key.astype("=u4").tobytes()) + int(pos).to_bytes(4, sys.byteorder,
                                                                   signed=True)


def put_in_place(state: Any) -> None:
    """In the worker, before a task: the kernel's generator states (see the docstring)."""
    global _numpy_held
    if _python_moved(state):
        random.setstate(state.random_state)
    if state.numpy_random_state is not None:
        held, _numpy_held = _numpy_held, None  # only the check after this task restores it
        if held != _numpy_fingerprint(state):
            import numpy

            numpy.random.set_state(state.numpy_random_state)


def drew_random(state: Any) -> bool:
    """In the worker, after the task: did it draw from a global random generator?"""
    global _numpy_held
    if state is None:
        return False
    drew = _python_moved(state) or _numpy_moved(state)
    if state.numpy_random_state is not None:
        _numpy_held = None if drew else _numpy_fingerprint(state)
    return drew


# In a worker: the numpy generator state the last task was seen to leave untouched
# (its set_state is skipped for the next task that wants the same), or None.
_numpy_held: tuple[Any, ...] | None = None


def _numpy_fingerprint(state: Any) -> tuple[Any, ...]:
    then = state.numpy_random_state
    return (then[0], *then[2:], state.numpy_key_bytes)


def _python_moved(state: Any) -> bool:
    """Whether Python's global generator is elsewhere than ``state.random_state``."""
    raw, expected = _python_raw_now(), state.random_raw
    if raw is None or expected is None:
        return bool(random.getstate() != state.random_state)
    return raw != expected or _gauss_next() != state.random_state[2]


def _numpy_moved(state: Any) -> bool:
    """Whether numpy's global generator is elsewhere than ``state.numpy_random_state``."""
    then = state.numpy_random_state
    if then is None:
        return False
    import numpy

    if not then[3]:  # no cached gaussian in the kernel's: any draw moves the raw state
        raw = _numpy_raw_now(numpy)
        if raw is not None:
            return raw != state.numpy_raw
    now = numpy.random.get_state()
    # Keys compared as bytes: numpy.array_equal costs ~10 µs a task.
    return bool(now[0] != then[0] or tuple(now[2:]) != tuple(then[2:])
                or now[1].tobytes() != state.numpy_key_bytes)


def _python_raw_now() -> bytes | None:
    """The global Python generator's state read from its C struct; None where the struct
    is not laid out as checked once against ``getstate`` (see the module docstring)."""
    generator = random._inst  # type: ignore[attr-defined]
    if not _python_layout_known(type(generator)):
        return None
    return _view_of(generator, lambda: id(generator) + _PYTHON_RAW_OFFSET,
                    _PYTHON_RAW_BYTES).raw


# The last generators read, each with a ctypes view of its struct (reading ``.raw`` costs
# ~0.1 µs, ``string_at`` ~0.5 µs). Holding the generator keeps its memory ours.
_views: dict[int, tuple[Any, Any]] = {}


def _view_of(owner: Any, address: Callable[[], int], size: int) -> Any:
    held = _views.get(id(owner))
    if held is None or held[0] is not owner:
        if len(_views) > 8:
            _views.clear()
        held = _views[id(owner)] = (owner, (ctypes.c_char * size).from_address(address()))
    return held[1]


@functools.cache
def _python_layout_known(kind: type) -> bool:
    """Whether generators of ``kind`` hold their state where :func:`_python_raw_now`
    reads it: checked on a fresh one, before and after a draw."""
    if kind is not random.Random:
        return False
    probe = random.Random(12345)
    if sys.getsizeof(probe) < _PYTHON_RAW_OFFSET + _PYTHON_RAW_BYTES:
        return False
    for _ in range(2):
        expected = python_raw_of(probe.getstate())
        if ctypes.string_at(id(probe) + _PYTHON_RAW_OFFSET, _PYTHON_RAW_BYTES) != expected:
            return False
        probe.random()
    return True


def _gauss_next() -> Any:
    return getattr(random._inst, "gauss_next", None)  # type: ignore[attr-defined]


def _numpy_raw_now(numpy: Any) -> bytes | None:
    """The global numpy generator's key and position, read from its C struct (~0.5 µs);
    None if it is not numpy's usual MT19937."""
    try:
        generator = numpy.random.mtrand._rand._bit_generator
        if type(generator).__name__ != "MT19937":
            return None
        return _view_of(generator, lambda: generator.ctypes.state_address,
                        _MT19937_BYTES).raw
    except (AttributeError, TypeError, ValueError):
        return None

