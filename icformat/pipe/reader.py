"""Reading pipe-mode channels: ``<channel>_0``, ``<channel>_1``, ... one epoch per FIFO."""
from __future__ import annotations

import os
from typing import Any, BinaryIO, Iterator, Sequence

from ..io.paths import PathLike
from ..errors import FormatError, UsageError
from ..errors import LabelError
from ..manifest.labels import parse_label
from ..recordio.reader import RecordReader
from .fifo import fifo_path, open_fifo_for_reading

DEFAULT_TIMEOUT = 60.0


def records_per_row(attribute_names: int | str | Sequence[str] | None) -> int | None:
    """How many records make one manifest row: None (RecordIO), a count, or the attribute names."""
    if attribute_names is None or isinstance(attribute_names, int):
        if isinstance(attribute_names, int) and attribute_names < 1:
            raise UsageError(f"a manifest row has at least one attribute, got {attribute_names}")
        return attribute_names
    from ..manifest.parse import parse_attribute_names

    return len(parse_attribute_names(attribute_names))


def iter_stream(
    src: PathLike | BinaryIO,
    *,
    attribute_names: int | str | Sequence[str] | None = None,
    label_format: str | None = None,
    num_classes: int | None = None,
    decode_labels: bool = True,
) -> Iterator[Any]:
    """Parse one pipe-mode stream (a FIFO, a captured stream file, ``s3://``, a file object).

    Without ``attribute_names``: the records (for ``.rec`` sources, MXNet image records: header and
    image). With them (or their count): one tuple per manifest row; for the two attributes of image
    classification, ``(image_bytes, label)`` with the label parsed by
    :func:`~icformat.manifest.parse_label` (a float class id or a float32 multi-hot vector), or
    ``(image_bytes, label_bytes)`` when ``decode_labels`` is False.
    """
    per_row = records_per_row(attribute_names)
    with RecordReader(src) as reader:
        if per_row is None:
            yield from reader
            return
        name = reader.path
        group: list[bytes] = []
        rows = 0
        for record in reader:
            group.append(record)
            if len(group) == per_row:
                yield _row(group, decode_labels, label_format, num_classes, name, rows)
                group = []
                rows += 1
        if group:
            raise FormatError(
                f"the stream ends in the middle of manifest row {rows}: {len(group)} of {per_row} records; "
                "do the attribute names match the served manifest?",
                name,
            )


def _row(group: list[bytes], decode_labels: bool, label_format, num_classes, name, index: int) -> tuple:
    if len(group) != 2 or not decode_labels:
        return tuple(group)
    image, label = group
    try:
        return image, parse_label(label.decode("utf-8"), label_format, num_classes)
    except (LabelError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "reason", str(exc))
        raise FormatError(f"row {index}: bad label record {bytes(label[:40]).decode('utf-8', 'replace')}: {reason}", name) from None


class PipeReader:
    """Read a SageMaker pipe-mode channel from ``<directory>/<channel>_<epoch>`` FIFOs.

    Iterating yields one epoch (records, or ``(image_bytes, label)`` pairs when ``attribute_names``
    says the channel is an augmented manifest; see :func:`iter_stream`); iterating again reads the
    next epoch's FIFO. Breaking out early is allowed, as SageMaker allows it: the FIFO is closed and
    the next iteration opens the next one. Each FIFO is waited for up to ``timeout`` seconds
    (appearing, then its writer connecting), as SageMaker's own readers retry; then an
    :class:`~icformat.errors.IcformatError` names the FIFO. ``epoch`` is the next epoch to open.
    """

    def __init__(
        self,
        directory: PathLike,
        channel: str = "train",
        *,
        epoch: int = 0,
        timeout: float | None = DEFAULT_TIMEOUT,
        attribute_names: int | str | Sequence[str] | None = None,
        label_format: str | None = None,
        num_classes: int | None = None,
        decode_labels: bool = True,
    ):
        self.directory = directory
        self.channel = channel
        self.epoch = epoch
        self.timeout = timeout
        self.records_per_row = records_per_row(attribute_names)
        self._stream_options = dict(
            attribute_names=self.records_per_row, label_format=label_format, num_classes=num_classes, decode_labels=decode_labels
        )
        self._active: Iterator | None = None

    @property
    def path(self) -> str:
        """The FIFO the next iteration opens; a regular file given as ``directory`` (a stream
        captured by ``pipe write``) is read as is, for every epoch, without waiting."""
        if os.path.isfile(self.directory):
            return os.fspath(self.directory)
        return fifo_path(self.directory, self.channel, self.epoch)

    def __iter__(self) -> Iterator[Any]:
        self.next_epoch()
        self._active = self._iter_epoch()
        return self._active

    def _iter_epoch(self) -> Iterator[Any]:
        stream = open_fifo_for_reading(self.path, self.timeout)
        self.epoch += 1
        try:
            yield from iter_stream(stream, **self._stream_options)
        finally:
            stream.close()

    def next_epoch(self) -> None:
        """Stop reading the epoch in progress, if any (its FIFO is closed); the next iteration
        opens the following epoch's FIFO."""
        active, self._active = self._active, None
        if active is not None:
            active.close()

    def close(self) -> None:
        """Close the FIFO being read, if any."""
        self.next_epoch()

    def __enter__(self) -> "PipeReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
