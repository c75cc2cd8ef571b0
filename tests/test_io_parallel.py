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
