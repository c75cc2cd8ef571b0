"""What a conversion to WebDataset or Parquet wrote (``Exported``), and what a way back wrote (``Rebuilt``)."""
from __future__ import annotations

from dataclasses import dataclass, field

from typing import Sequence

from ..convert.manifest_to_rec import RecStats
from ..errors import FormatError
from ..problems import Problem


@dataclass
class Exported:
    """``records`` samples with ``image_bytes`` of image bytes in ``shards`` (in order), the class
    names in ``classes_path`` when given; ``skipped``: a :class:`~icformat.problems.Problem` per
    record left out (``on_error`` skip or warn), with its byte offset; ``notes``: what was not
    carried as it was (an ``.idx`` out of file order, class ids beyond the names)."""

    records: int = 0
    image_bytes: int = 0
    shards: list[str] = field(default_factory=list)
    classes_path: str | None = None
    skipped: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"records": self.records, "image_bytes": self.image_bytes, "shards": self.shards,
                "classes": self.classes_path, "skipped": [p.to_dict() for p in self.skipped], "notes": self.notes}


@dataclass
class Rebuilt(RecStats):
    """What a way back wrote (:class:`~icformat.convert.manifest_to_rec.RecStats`: ``records``,
    ``image_bytes``, ``rec_path``, ``rows`` read, ``skipped``), with ``notes``: what the input held
    that a record cannot (members or columns other than the image, label and header fields)."""

    notes: list[str] = field(default_factory=list)


def nothing_written(inputs: Sequence[str], what: str, read: int, skipped: list[Problem]) -> FormatError:
    """The error of a conversion that wrote nothing: its inputs held no ``what`` or only bad ones."""
    if not read or not skipped:
        return FormatError(f"no {what} in {len(inputs)} file(s); nothing written", inputs[0])
    return FormatError(f"every one of the {read:,} {what} was bad (the first: {skipped[0]}); nothing written", inputs[0])


def finish_export(result: Exported, out, names, write_classes: bool, shards: Sequence[str], read: int) -> Exported:
    """Close the shards of a conversion out of ``.rec`` and write its class names (refusing an
    empty result: the caller's ``with`` then removes what was written)."""
    if not result.records:
        raise nothing_written(shards, "records", read, result.skipped)
    result.shards = out.close()
    result.classes_path = names.write(out.prefix) if write_classes else None
    result.notes += names.notes()
    return result
