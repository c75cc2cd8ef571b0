"""The one ordered parallel map: input order, errors at their item's turn, bounded work ahead."""
from __future__ import annotations

import threading

import pytest

from icformat.errors import ManifestError, UsageError
from icformat.io.parallel import map_ordered, start_method


def _square(x: int) -> int:
    return x * x


def _fail_on_seven(x: int) -> int:
    if x == 7:
        raise ManifestError("invalid JSON", "m.manifest", 7)
    return x


@pytest.mark.parametrize("kind,workers", [("serial", 1), ("thread", 4), ("process", 2)])
def test_results_come_in_input_order(kind, workers):
    assert list(map_ordered(_square, range(50), workers=workers, kind=kind)) == [(i, i * i) for i in range(50)]


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_an_error_is_raised_at_its_turn_with_its_type_and_location(kind):
    seen = []
    with pytest.raises(ManifestError) as caught:
        for item, _ in map_ordered(_fail_on_seven, range(20), workers=2, kind=kind):
            seen.append(item)
    assert seen == list(range(7))
    assert str(caught.value) == "m.manifest:7: invalid JSON" and caught.value.line == 7


def test_work_ahead_is_bounded():
    started = []
    lock = threading.Lock()

    def record(x):
        with lock:
            started.append(x)
        return x

    mapped = map_ordered(record, range(1000), workers=2, kind="thread", in_flight=5)
    assert next(mapped) == (0, 0)
    assert len(started) <= 6
    mapped.close()


def test_bad_kind_and_method_are_usage_errors():
    with pytest.raises(UsageError, match="unknown executor"):
        list(map_ordered(_square, range(3), workers=2, kind="fibers"))
    with pytest.raises(UsageError, match="not available"):
        start_method("teleport")


def _die(x: int) -> int:
    if x == 3:
        import os

        os._exit(9)  # as the kernel's OOM killer would end it: no exception, no answer
    return x


def test_a_worker_process_that_dies_is_an_error_not_a_hang():
    from icformat.errors import IcformatError

    with pytest.raises(IcformatError, match="worker process ended unexpectedly"):
        list(map_ordered(_die, range(10), workers=2, kind="process"))


def test_processes_start_no_thread_in_the_parent():
    """No helper threads (a multiprocessing.Pool keeps three): a later fork stays safe, and their
    wake-ups cost no CPU."""
    before = threading.active_count()
    mapped = map_ordered(_square, range(40), workers=2, kind="process", in_flight=3)
    assert next(mapped) == (0, 0)
    assert threading.active_count() == before
    assert list(mapped) == [(i, i * i) for i in range(1, 40)]


def test_workers_stop_once_the_last_item_is_handed_out():
    """When the items run out, each worker process is told to stop after its last one, so a
    worker done early is gone while the others finish; every result still comes, in order."""
    import multiprocessing
    import time

    results = map_ordered(_square, range(9), workers=2, kind="process", in_flight=3)
    got = [next(results) for _ in range(9)]  # the generator is not closed yet
    deadline = time.monotonic() + 30
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [value for _, value in got] == [i * i for i in range(9)]
    assert multiprocessing.active_children() == []
    results.close()


def _faults_of_churn(rounds: int) -> int:
    """Minor page faults of ``rounds`` rounds of making and freeing about 4 MiB in 48 KiB blocks
    (as an im2rec worker reads a run of images ahead), after a first round that is not counted."""
    import resource

    def churn():
        blocks = [b"x" * (48 << 10) for _ in range(90)]
        del blocks

    churn()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(rounds):
        churn()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def test_worker_processes_keep_the_memory_they_free():
    """glibc's malloc hands 4 MiB freed at the top of the heap back to the kernel, and takes about
    1,100 page faults to get it again, every round; a worker process keeps it."""
    faults = [value for _, value in map_ordered(_faults_of_churn, [10, 10], workers=2, kind="process")]
    assert max(faults) < 1_000, faults


def test_chunk_bounds_cover_every_row_once_in_order():
    """The runs of rows im2rec hands out: every row once, in order, the last ones in smaller
    pieces when several workers share them."""
    from icformat.im2rec.plan import chunk_bounds

    for start, stop, size, workers in [(0, 0, 16, 2), (0, 10, 16, 2), (5, 1500, 16, 2), (0, 100, 64, 16), (3, 40, 1, 4),
                                       (0, 33, 16, 1), (0, 1000, 7, 3)]:
        chunks = chunk_bounds(start, stop, size, workers)
        assert [row for first, last in chunks for row in range(first, last)] == list(range(start, stop))
        assert all(last - first <= size for first, last in chunks)
        if workers > 1 and size >= 4 and stop - start > size * workers:
            assert chunks[-1][1] - chunks[-1][0] <= size // 4
