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
