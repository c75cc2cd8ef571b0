"""Class names carried beside the samples: read from a classes file (one name per line, label
order, as ``lst make`` writes it) and written as ``PREFIX.classes`` next to the shards."""
from __future__ import annotations

import os
from typing import Sequence

from ..io.paths import PathLike
from ..lst.make import read_classes_file, write_classes_file


class ClassNames:
    """The names of class ids ``0..n-1`` (none given: no names), and a count of the ids past them."""

    def __init__(self, names: Sequence[str] | None):
        self.names = list(names) if names is not None else None
        self.beyond = 0
        self.first_beyond: int | None = None

    @classmethod
    def load(cls, classes: PathLike | Sequence[str] | None) -> "ClassNames":
        if classes is None or isinstance(classes, (list, tuple)):
            return cls(classes)
        return cls(read_classes_file(os.fspath(classes)))

    def name(self, cls_id: int | None) -> str | None:
        if self.names is None or cls_id is None or cls_id >= len(self.names):
            return None
        return self.names[cls_id]

    def count(self, cls_id: int | None) -> None:
        """Note a record's class id (one past the names is counted for :meth:`notes`)."""
        if self.names is not None and cls_id is not None and cls_id >= len(self.names):
            self.beyond += 1
            if self.first_beyond is None:
                self.first_beyond = cls_id

    def notes(self) -> list[str]:
        if not self.beyond:
            return []
        return [f"{self.beyond} record(s) have a class id past the {len(self.names)} class names (the first: {self.first_beyond}); "
                "give the classes file of this dataset"]

    def write(self, prefix: str) -> str | None:
        """Write ``PREFIX.classes`` (``FOLDER/classes.classes`` for a folder prefix); its path, or None."""
        if self.names is None:
            return None
        path = (prefix + "classes" if prefix.endswith(("/", os.sep)) else prefix) + ".classes"
        write_classes_file(path, self.names)
        return path
