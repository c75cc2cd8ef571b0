"""The records of one or more ``.rec`` datasets in order, as samples: header fields, image bytes, the
``.idx`` key when it is not the header id, and a sample key (the id) unique among its neighbours."""
from __future__ import annotations

import os
from typing import Iterator, NamedTuple, Sequence

from ..io.paths import PathLike, is_fifo, is_uri
from ..io.streams import exists
from ..recordio.index import iter_index
from ..recordio.reader import RecordReader
from ..recordio.shards import list_rec_shards
from ..recordio.writer import default_index_path
from ..skips import SkipPolicy
from .fields import HeaderFields, header_fields


class Sample(NamedTuple):
    """One record as a sample. ``image`` is a view into the reader's batch: valid until the next
    batch is asked for."""

    key: str  # the sample key: the header id, with ``_<position>`` when the record before has the same id
    fields: HeaderFields
    image: memoryview
    idx_key: str | None  # the record's ``.idx`` key when it is not its id (None: the id, or no .idx)


def list_sources(sources: PathLike | Sequence[PathLike]) -> list[str]:
    """The ``.rec`` files of every source (a ``.rec``, a folder or a prefix of shards), in order."""
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    return [shard for source in sources for shard in list_rec_shards(source)]


class _IndexKeys:
    """The keys of a ``.rec``'s ``.idx`` (when it has one), read along with the records."""

    def __init__(self, rec: str, notes: list[str]):
        self.notes = notes
        self.path = None if is_fifo(rec) and not is_uri(rec) else default_index_path(rec)
        self.lines = iter_index(self.path) if self.path is not None and exists(self.path) else None
        self.count = 0

    def key(self, offset: int, id_: int) -> str | None:
        """The ``.idx`` key of the record at ``offset`` when it differs from ``str(id_)``."""
        if self.lines is None:
            return None
        line = next(self.lines, None)
        self.count += 1
        if line is None or line[1] != offset:
            what = "ends" if line is None else f"gives offset {line[1]} where the record is at {offset}"
            self._stop(f"{self.path}: entry {self.count} {what}; .idx keys carried only up to there (the way back writes the header ids)")
            return None
        return None if line[0] == str(id_) else line[0]

    def finish(self) -> None:
        if self.lines is not None and next(self.lines, None) is not None:
            self._stop(f"{self.path}: lists more entries than the .rec has records; the extra ones are not carried")

    def _stop(self, note: str) -> None:
        self.notes.append(note)
        self.lines = None


def iter_samples(shards: Sequence[str], policy: SkipPolicy, notes: list[str], *, max_records: int | None = None,
                 max_bytes: int | None = None) -> Iterator[list[Sample]]:
    """The samples of ``shards`` in order, one list per reader batch (at most ``max_records``
    records and ``max_bytes`` bytes). A record without a valid image header goes to ``policy``."""
    previous = None
    position = 0
    for shard in shards:
        keys = _IndexKeys(shard, notes)
        with RecordReader(shard) as reader:
            for batch in reader.iter_batches(max_records=max_records, max_bytes=max_bytes):
                columns = batch.headers(check=False)
                view = batch.buffer
                starts = batch.offsets.tolist()
                samples = []
                for i, offset in enumerate(batch.file_offsets.tolist()):
                    id_ = int(columns.id[i])
                    idx_key = keys.key(offset, id_)
                    position += 1
                    if not columns.fits[i]:
                        policy.skip(columns.error(i, batch.lengths, batch.file_offsets, reader.path), "bad-header")
                        continue
                    fields = header_fields(view, starts[i], columns, i)
                    key = str(id_) if str(id_) != previous else f"{id_}_{position - 1}"
                    previous = key
                    image_start = int(columns.image_offsets[i])
                    samples.append(Sample(key, fields, view[image_start : image_start + int(columns.image_lengths[i])], idx_key))
                yield samples
        keys.finish()

