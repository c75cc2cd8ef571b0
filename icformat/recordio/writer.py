"""RecordIO writer, byte-compatible with dmlc's ``RecordIOWriter`` and ``MXIndexedRecordIO``."""
from __future__ import annotations

import io
import itertools
import os
import warnings
import weakref
from typing import Any, BinaryIO, Sequence

from ..io.atomic import open_output, output_error
from ..io.paths import PathLike
from ..errors import RecordIOError, UsageError
from .framing import JOIN_BELOW, MAX_LENGTH, encode_record, frame_into, frame_record

_SMALL_BYTES = 64  # a batch remembers how payloads up to this size are framed (label records repeat)...
_SMALL_KEPT = 256  # ...up to this many of them


def default_index_path(rec_path: str) -> str:
    """``data/train.rec`` -> ``data/train.idx`` (the name MXNet and im2rec use)."""
    root, _ = os.path.splitext(rec_path)
    return root + ".idx"


try:
    IOV_MAX = max(16, os.sysconf("SC_IOV_MAX"))
except (AttributeError, ValueError, OSError):
    IOV_MAX = 1024


def writev_all(fd: int, pieces: list) -> None:
    """Write every byte of ``pieces`` to ``fd`` in order, ``IOV_MAX`` pieces per ``os.writev``,
    going on after a short write (a pipe, a signal) from where it stopped."""
    while pieces:
        chunk = pieces[:IOV_MAX]
        written = os.writev(fd, chunk)
        if written == sum(map(len, chunk)):
            pieces = pieces[len(chunk):]
            continue
        if written <= 0:
            raise OSError(f"writev wrote nothing to descriptor {fd}")
        pieces = unwritten(pieces, written)


def unwritten(pieces: list, written: int) -> list:
    """What is left of ``pieces`` once their first ``written`` bytes went out (a short write)."""
    i = 0
    while i < len(pieces) and written >= len(pieces[i]):
        written -= len(pieces[i])
        i += 1
    rest = pieces[i:]
    if written:
        rest[0] = memoryview(rest[0])[written:]
    return rest


class UnclosedWriterWarning(UserWarning):
    """A :class:`RecordWriter` was dropped (or the program ended) without ``close()``: its output
    was discarded, never left half-written."""


def _discard_unclosed(name: str | None, outputs: list) -> None:
    """What happens to a writer nobody closed: its temporary files go, with a warning."""
    for output in outputs:
        try:
            output.abort()
        except Exception:  # an interpreter shutting down; nothing more to do
            pass
    warnings.warn(f"{name}: RecordWriter was never closed, so nothing was written there (its temporary files "
                  "are removed); call close() or use 'with RecordWriter(...)'", UnclosedWriterWarning, stacklevel=2)


class RecordWriter:
    """Write framed records to a path, an ``s3://`` URI or a binary file object.

    ``index``: None (no ``.idx``), True (``<rec without extension>.idx``) or a path/URI for the
    ``key\\toffset`` index. Paths are written under a temporary name and appear only when the writer
    is closed without error (use it as a context manager). Payloads of 2^29 bytes or more are refused.
    A writer dropped or left open at the end of the program without ``close()`` writes nothing and
    removes its temporary files, with an :class:`UnclosedWriterWarning`.
    """

    def __init__(self, dest: PathLike | BinaryIO, index: bool | PathLike | None = None):
        self.dest = dest
        self._out = None
        self._idx_out = None
        if hasattr(dest, "write"):
            self._file = dest
            try:
                self.offset = dest.tell()
            except (OSError, AttributeError, ValueError):
                self.offset = 0
        else:
            self._out = open_output(dest)
            self._file = self._out.file
            self.offset = 0
        if index is True:
            if hasattr(dest, "write"):
                raise UsageError("index=True needs a destination path; pass the .idx path explicitly")
            index = default_index_path(os.fspath(dest))
        if index:
            self._idx_out = open_output(index, "w")
        self.count = 0
        self.closed = False
        self._fd: int | None | bool = False  # not looked up yet (see _gather_fd)
        self._batch: WriteBatch | None = None
        outputs = [out for out in (self._out, self._idx_out) if out is not None]
        # runs when the writer is garbage collected or at exit, unless close()/abort() detached it
        self._unclosed = weakref.finalize(self, _discard_unclosed, self._name(), outputs) if outputs else None

    def write(self, payload: bytes | bytearray | memoryview, key: Any = None, *, indexed: bool = True) -> int:
        """Append one record; returns its byte offset. ``key`` (default: the record's sequence
        number) goes into the ``.idx`` when there is one, unless ``indexed`` is false."""
        self._flush_batch()
        if len(payload) >= MAX_LENGTH:
            raise self._too_large(len(payload))
        pieces = encode_record(payload)
        return self._append((b"".join(pieces),) if len(payload) < JOIN_BELOW else pieces, key, indexed)

    def batch(self) -> "WriteBatch":
        """The writer's :class:`WriteBatch`: records framed as they are added, written together.
        Anything else written through the writer (or closing it) writes the batch first."""
        if self._batch is None:
            self._batch = WriteBatch(self)
        return self._batch

    def write_many(self, payloads: Sequence[bytes | bytearray | memoryview], keys: Sequence | None = None,
                   heads: Sequence[bytes] | None = None) -> list[int]:
        """Append many records with one gathered write (and one ``.idx`` write); returns their
        offsets. Gives the same bytes, offsets and errors as :meth:`write` record by record.

        Record ``i``'s payload is ``heads[i] + payloads[i]`` when ``heads`` is given (an image
        header kept apart from its image, which is then not copied); its ``.idx`` key is
        ``keys[i]`` (default: its sequence number).
        """
        count = len(payloads)
        if (keys is not None and len(keys) != count) or (heads is not None and len(heads) != count):
            raise UsageError(f"write_many: {count} payloads, {len(keys or ())} keys and {len(heads or ())} heads; give one each")
        batch = self.batch()
        add = batch.add
        if heads is None and keys is None:
            offsets = [add(payload) for payload in payloads]
        else:
            keys = (None,) * count if keys is None else keys
            heads = (b"",) * count if heads is None else heads
            offsets = [add(payload, key, head) for payload, key, head in zip(payloads, keys, heads)]
        batch.flush()
        return offsets

    def _too_large(self, length: int) -> RecordIOError:
        return RecordIOError(
            f"record of {length:,} bytes is too large: RecordIO only accepts records smaller than 2^29 bytes (512 MiB)",
            self._name(),
            self.offset,
        )

    def _flush_batch(self) -> None:
        if self._batch is not None and self._batch.count:
            self._batch.flush()

    def _write_pieces(self, pieces: list) -> None:
        """Write ``pieces`` in order: gathered (``os.writev``, no copy) to a plain file or pipe
        descriptor behind the output, else one ``write`` call each."""
        fd = self._gather_fd()
        if fd is None:
            write = self._file.write
            for piece in pieces:
                write(piece)
            return
        self._file.flush()  # what write() left in the buffer goes first
        writev_all(fd, pieces)

    def _gather_fd(self) -> int | None:
        """The descriptor under the output when it is a plain binary file object (our own file, a
        FIFO, stdout): ``io.BufferedWriter`` or ``io.FileIO``; None otherwise."""
        if self._fd is False:
            self._fd = None
            if isinstance(self._file, (io.BufferedWriter, io.FileIO)):
                try:
                    self._fd = self._file.fileno()
                except (OSError, ValueError):
                    self._fd = None
        return self._fd

    def write_framed(self, framed: bytes | memoryview, key: Any = None) -> int:
        """Append a record already framed by :func:`~icformat.recordio.framing.frame_record`
        (for example in a worker); returns its byte offset. ``key`` as in :meth:`write`."""
        self._flush_batch()
        return self._append((framed,), key)

    def _append(self, pieces, key: Any, indexed: bool = True) -> int:
        """Write the pieces of one framed record and its index line; returns its offset."""
        offset = self.offset
        for piece in pieces:
            self._file.write(piece)
            self.offset += len(piece)
        if self._idx_out is not None and indexed:
            self._idx_out.file.write(f"{self.count if key is None else key}\t{offset}\n")
        self.count += 1
        return offset

    def _name(self) -> str | None:
        return getattr(self.dest, "name", None) if hasattr(self.dest, "write") else os.fspath(self.dest)

    def close(self) -> None:
        """Finish: the files appear at their destinations (a caller's file object is only flushed)."""
        if self.closed:
            return
        try:
            self._flush_batch()
        except BaseException:
            self.abort()
            raise
        self.closed = True
        self._detach()
        try:
            if self._out is not None:
                self._out.commit()
            else:
                self._file.flush()
        except BaseException:
            if self._idx_out is not None:
                self._idx_out.abort()
            raise
        if self._idx_out is not None:
            self._idx_out.commit()

    def abort(self) -> None:
        """Drop everything written; no file appears."""
        if self.closed:
            return
        self.closed = True
        self._detach()
        if self._out is not None:
            self._out.abort()
        if self._idx_out is not None:
            self._idx_out.abort()

    def _detach(self) -> None:
        if self._unclosed is not None:
            self._unclosed.detach()

    def __enter__(self) -> "RecordWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
            return
        self.abort()
        if self._out is not None:
            error = output_error(self.dest, exc)
            if error is not exc:
                raise error from exc


class WriteBatch:
    """Records framed as they are added, while their bytes are still in the CPU caches (so the
    magic scan is cheap), and written by :meth:`flush` with one gathered write and one ``.idx``
    write. Get it from :meth:`RecordWriter.batch`; the bytes, offsets and errors are those of
    :meth:`RecordWriter.write` record by record."""

    def __init__(self, writer: RecordWriter):
        self.writer = writer
        self.pieces: list = []
        self.lines: list[str] = []  # .idx lines, when the writer keeps an index
        self.size = 0  # framed bytes waiting
        self.count = 0  # records waiting
        self._small: dict[bytes, bytes] = {}  # small payload -> its framed record (labels repeat)

    def add(self, payload: bytes | bytearray | memoryview, key: Any = None, head: bytes = b"") -> int:
        """Frame one record (payload ``head + payload``) for the next :meth:`flush`; returns the
        offset it will have. A large payload is kept, not copied, until then: do not change it.
        One of 2^29 bytes or more is refused, after the records before it are written."""
        writer = self.writer
        length = len(head) + len(payload)
        if length >= MAX_LENGTH:
            self.flush()
            raise writer._too_large(length)
        offset = writer.offset + self.size
        if length <= _SMALL_BYTES and not head and type(payload) is bytes:
            record = self._small.get(payload)
            if record is None:
                record = frame_record(payload)
                if len(self._small) < _SMALL_KEPT:
                    self._small[payload] = record
            self.pieces.append(record)
            self.size += len(record)
        else:
            self.size += frame_into(self.pieces, payload, head)
        return self._counted(key, offset)

    def add_framed(self, framed: bytes | memoryview, key: Any = None) -> int:
        """Add one record already framed by :func:`~icformat.recordio.framing.frame_record` (for
        example in a worker) for the next :meth:`flush`, kept, not copied; returns its offset.
        ``key`` as in :meth:`add`."""
        writer = self.writer
        offset = writer.offset + self.size
        self.pieces.append(framed)
        self.size += len(framed)
        return self._counted(key, offset)

    def add_framed_run(self, framed: bytes | memoryview, sizes: Sequence[int], keys: Sequence) -> None:
        """Add records already framed one after the other in ``framed`` (``sizes``: each one's
        framed size; they add up to its length), with their ``keys`` (None: as in :meth:`add`):
        :meth:`add_framed` for each, in one call and one piece."""
        if sum(sizes) != len(framed) or len(keys) != len(sizes):
            raise UsageError(f"add_framed_run: {len(sizes)} sizes adding up to {sum(sizes)} bytes, {len(keys)} keys, "
                             f"{len(framed)} bytes framed")
        writer = self.writer
        if writer._idx_out is not None:
            if None in keys:  # no key: its number in the file, as add_framed gives it
                first = writer.count + self.count
                keys = [first + i if key is None else key for i, key in enumerate(keys)]
            self.lines.extend(map("{}\t{}\n".format, keys, itertools.accumulate(sizes, initial=writer.offset + self.size)))
        self.pieces.append(framed)
        self.size += len(framed)
        self.count += len(sizes)

    def _counted(self, key: Any, offset: int) -> int:
        """One more record waiting: its ``.idx`` line (when there is an index); returns ``offset``."""
        if self.writer._idx_out is not None:
            self.lines.append(f"{self.writer.count + self.count if key is None else key}\t{offset}\n")
        self.count += 1
        return offset

    def flush(self) -> None:
        """Write the records added since the last flush."""
        if not self.count:
            return
        writer = self.writer
        pieces, lines, size, count = self.pieces, self.lines, self.size, self.count
        self.pieces, self.lines, self.size, self.count = [], [], 0, 0
        writer._write_pieces(pieces)
        writer.offset += size
        if lines:
            writer._idx_out.file.write("".join(lines))
        writer.count += count
