"""A worker process tells whether a task drew from the global generators, cheaply.

Each task shipped to a worker process runs with the kernel's random state put in
place, and afterwards :func:`drew_random` says whether it drew from it (the kernel
then runs the task itself, so its own generator advances as in the plain cell).
Reading Python's generator straight from its C struct, and not putting back a
state the last task was checked to have left untouched, must never hide a draw.
These run the real worker-side functions in this process, as a worker runs them.
"""

from __future__ import annotations

import random

import pytest

from kernel_ext.cell import process_state, random_state


@pytest.fixture
def kernel_state():
    saved = random.getstate()
    random.seed(2024)
    state = process_state.capture()
    yield state
    random.setstate(saved)


def run_task(state, task):
    """What a worker does around one task: settings in, task, the draw check."""
    with process_state.applied(state):
        task()
    return process_state.drew_random(state)


def test_the_c_struct_layout_is_recognised_on_this_python():
    assert random_state._python_layout_known(random.Random)
    assert random_state._python_raw_now() == random_state.python_raw_of(random.getstate())


@pytest.mark.parametrize("draw", [
    lambda: random.random(),
    lambda: random.getrandbits(1),
    lambda: random.choice([1, 2, 3]),
    lambda: [random.getrandbits(32) for _ in range(624)],  # the position wraps around
    lambda: random.seed(2024),  # reseeded to the same seed: state equal, not a draw
])
def test_a_draw_is_seen_and_the_next_task_starts_from_the_kernels_state(kernel_state, draw):
    reseeds = draw.__code__.co_names == ("random", "seed")
    assert run_task(kernel_state, draw) is not reseeds
    seen = []
    assert run_task(kernel_state, lambda: None) is False
    run_task(kernel_state, lambda: seen.append(random.random()))
    random.setstate(kernel_state.random_state)
    assert seen == [random.random()]


def test_a_cached_gaussian_alone_counts_as_a_draw(kernel_state):
    random.gauss(0, 1)
    gauss_left = random.getstate()[2]
    assert gauss_left is not None
    state = process_state.capture()  # the kernel's state holds a cached gaussian
    assert run_task(state, lambda: None) is False
    assert run_task(state, lambda: random.gauss(0, 1)) is True  # uses the cached one only
    assert random.getstate()[1] == state.random_state[1]  # generator words unchanged


def test_tasks_that_do_not_draw_keep_the_kernels_state_without_putting_it_back(kernel_state):
    for _ in range(5):
        assert run_task(kernel_state, lambda: sum(range(100))) is False
    assert random.getstate() == kernel_state.random_state


def test_a_state_changed_between_tasks_is_put_back(kernel_state):
    assert run_task(kernel_state, lambda: None) is False
    random.random()  # something outside any task moved it (a library's import, say)
    assert run_task(kernel_state, lambda: None) is False
    assert random.getstate() == kernel_state.random_state


def test_another_kernel_state_is_put_in_place(kernel_state):
    assert run_task(kernel_state, lambda: None) is False
    random.seed(7)
    other = process_state.capture()
    random.seed(99)
    assert run_task(other, lambda: None) is False
    assert random.getstate() == other.random_state


@pytest.fixture
def numpy_kernel_state():
    np = pytest.importorskip("numpy")
    saved = np.random.get_state()
    np.random.seed(7)
    yield np, process_state.capture()
    np.random.set_state(saved)


def test_numpy_draws_are_seen_and_the_kernels_state_put_back(numpy_kernel_state):
    np, state = numpy_kernel_state
    assert run_task(state, lambda: None) is False
    assert run_task(state, lambda: np.random.rand(2)) is True
    seen = []
    run_task(state, lambda: seen.append(float(np.random.rand())))
    np.random.set_state(state.numpy_random_state)
    assert seen == [float(np.random.rand())]


def test_numpy_cached_gaussian_consumed_with_the_raw_state_unchanged_is_a_draw(
        numpy_kernel_state):
    np, _ = numpy_kernel_state
    np.random.standard_normal()  # leaves a cached gaussian in the kernel's generator
    with_gauss = process_state.capture()
    np.random.standard_normal()  # uses it: same key and position, no cached gaussian
    without_gauss = process_state.capture()
    assert with_gauss.numpy_raw == without_gauss.numpy_raw
    assert run_task(with_gauss, lambda: None) is False
    # The worker now holds the cached gaussian; the next task wants the state without it.
    assert run_task(without_gauss, lambda: np.random.standard_normal()) is True
