"""Packing a ``.lst`` into ``.rec`` + ``.idx`` with many workers, records in list order.

Workers (processes; threads for pass-through and ``s3://`` images) each take a run of rows, read,
convert and frame the images, and hand back the records (forked workers through shared memory,
``slots.py``); the parent writes them a run at a time (one gathered write) strictly in list order,
so the output is the same whatever the number of workers. At most a few runs per worker are in
flight, so memory stays flat on any list size. A bad image is skipped and reported through
``on_skip`` (or, with ``strict``, stops the run); output goes to temporary names and appears only
when the run completes.
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator, NamedTuple

from ..io.paths import is_uri
from ..errors import IcformatError, ImageError, InputNotFound
from ..image import transcode
from ..image.budget import resolve_max_pixels
from ..image.resize import opencv
from ..io.objects import SETUP_ERRORS
from ..io.parallel import map_ordered, start_method
from ..lst.table import LstTable
from ..lst.parse import read_lst, require_rows
from ..problems import Problem, warning
from ..recordio.framing import buffer_address, frame_in_place, frame_into
from ..recordio.writer import RecordWriter
from .pack import PackOptions, image_record_parts, read_image_input
from .plan import check_indices_for_packing, check_paths_for_packing, chunk_bounds, label_warnings, output_prefix, plan_packs, shard_bounds
from .slots import SharedSlots


@dataclass
class Skipped:
    """An image left out: its ``.lst`` ``line``, ``path`` and why."""

    line: int
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path} (line {self.line}): {self.reason}; skipped"


@dataclass
class PackReport:
    """What one ``.lst`` gave: records ``written`` out of ``rows``, the ``skipped`` images, timing."""

    lst_path: str
    rec_path: str
    idx_path: str
    rows: int = 0
    written: int = 0
    bytes_written: int = 0
    seconds: float = 0.0
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[Skipped] = field(default_factory=list)  # packed, but damaged: the user is told
    sha256: str | None = None  # of the .rec, when asked for (``checksum=True``)
    jpeg_path: str = ""  # how JPEGs were re-encoded ('turbojpeg-yuv' or 'rgb (simplejpeg)'); '' if not

    @property
    def images_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        return {
            "lst": self.lst_path,
            "rec": self.rec_path,
            "idx": self.idx_path,
            "rows": self.rows,
            "written": self.written,
            "skipped": [{"line": s.line, "path": s.path, "reason": s.reason} for s in self.skipped],
            "warnings": [{"line": s.line, "path": s.path, "reason": s.reason} for s in self.notes],
            "bytes": self.bytes_written,
            "seconds": round(self.seconds, 3),
            "images_per_second": round(self.images_per_second, 1),
            **({"sha256": self.sha256} if self.sha256 else {}),
            **({"jpeg_path": self.jpeg_path} if self.jpeg_path else {}),
        }


class _Packer:
    """Packs runs of rows of one table; lives in each worker."""

    def __init__(self, table: LstTable, root: str, options: PackOptions, framed: bool = False,
                 slots: SharedSlots | None = None):
        self.framed = framed  # hand back records framed for the file, so the writer only appends
        self.slots = slots  # forked workers frame records straight into the parent's memory
        self.indices = table.indices
        self.table = table
        self.paths = table.paths
        self.root = root
        self.options = options

    def rows(self, bounds: tuple[int, int]) -> list[bytes | str | tuple[bytes, str]]:
        """The record payload of each row (with a note when the image was damaged but packed), or
        why it could not be packed."""
        out: list = []
        options, jpeg_path = self._run_settings()
        for row, got in self._inputs(bounds, options):
            notes: list[str] = []
            parts = got if type(got) is str else self._parts(row, got, notes, options, jpeg_path)
            if type(parts) is str:
                out.append(parts)
                continue
            if self.framed:
                pieces: list = []
                frame_into(pieces, parts[1], parts[0])
                payload = b"".join(pieces)
            else:
                payload = b"".join(parts)
            out.append((payload, "; ".join(notes)) if notes else payload)
        return out

    def rows_into(self, item: tuple[int, tuple[int, int]]) -> list[int | bytes | str | tuple]:
        """:meth:`rows` for run ``index`` framed straight into its shared slot, one record after the
        other (each image encoded in its place there where it can be): each row's framed size there
        (with its note), or why it could not be packed; a record that no longer fits comes back as
        framed bytes."""
        index, bounds = item
        slot = self.slots.slot(index)
        room, at, base = len(slot), 0, buffer_address(slot)
        out: list = []
        options, jpeg_path = self._run_settings()
        for row, got in self._inputs(bounds, options):
            notes: list[str] = []
            parts = got if type(got) is str else self._parts(row, got, notes, options, jpeg_path, slot[at:])
            if type(parts) is str:
                out.append(parts)
                continue
            head, image = parts
            size = frame_in_place(slot, at, head, image, base) if type(image) is memoryview else 0
            if size:
                result: int | bytes = size
            else:  # not encoded in place (or to be split): framed apart, then copied in when it fits
                pieces: list = []
                size = frame_into(pieces, bytes(image) if type(image) is memoryview else image, head)
                if at + size <= room:
                    end = at
                    for piece in pieces:
                        slot[end : end + len(piece)] = piece
                        end += len(piece)
                    result = size
                else:
                    result = b"".join(pieces)
            if type(result) is int:
                at += result
            out.append((result, "; ".join(notes)) if notes else result)
        return out

    def _run_settings(self) -> tuple[PackOptions, str]:
        """The options with the pixel budget resolved, and the JPEG path (``transcode.codec_path``):
        both read the environment, so they are read once a run, not for every image."""
        options = self.options
        if options.max_pixels is None:
            options = replace(options, max_pixels=resolve_max_pixels(None))
        return options, transcode.codec_path()

    def _inputs(self, bounds: tuple[int, int], options: PackOptions) -> Iterator[tuple[int, tuple | str]]:
        """``(row, its input or why it could not be read)`` for the rows of a run: the inputs
        (``pack.read_image_input``) of up to :data:`READ_AHEAD_BYTES` of files read together, then
        handed out one by one (see ``read_image_input`` for why)."""
        row, stop = bounds
        while row < stop:
            first, size, batch = row, 0, []
            while row < stop and size < READ_AHEAD_BYTES:
                got = _attempt(read_image_input, self.root, self.paths[row], options)
                size += len(got[0]) if type(got) is tuple else 0
                batch.append(got)
                row += 1
            yield from enumerate(batch, first)

    def _parts(self, row: int, got: tuple, notes: list[str], options: PackOptions, jpeg_path: str,
               room: memoryview | None = None) -> tuple[bytes, bytes | memoryview] | str:
        """``(image header, image bytes)`` of one row from its input (see ``pack.image_record_parts``
        for ``room``), or why it could not be packed."""
        data, header = got
        return _attempt(image_record_parts, int(self.indices[row]), self.table.row_labels(row), data, options, notes, room,
                        jpeg_path=jpeg_path, header=header)


READ_AHEAD_BYTES = 4 << 20  # a worker holds at most this much of image files (and one more file) read ahead


def _attempt(step: Callable, *args, **kwargs):
    """``step(*args, **kwargs)``, or why one image failed there: every error but a failure of the
    setup (the same for every image: raised) becomes its reason, so one odd file (a decompression
    bomb, a codec crash) does not end a long run."""
    try:
        return step(*args, **kwargs)
    except ImageError as exc:
        return str(exc)
    except SETUP_ERRORS:
        raise  # no credentials, bad bucket name: the same for every image, so stop here
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


_WORKER: dict = {}
_PROGRESS_EVERY = 64  # rows between progress calls
REMOTE_FETCHES = 16  # default workers (threads) when the images are s3:// objects


def _init_process(packer: _Packer) -> None:
    _WORKER["packer"] = packer


def _rows_in_process(bounds: tuple[int, int]) -> list[bytes | str]:
    return _WORKER["packer"].rows(bounds)


def _rows_into_slot(item: tuple[int, tuple[int, int]]) -> list:
    return _WORKER["packer"].rows_into(item)


def choose_executor(executor: str, workers: int, options: PackOptions, root: str) -> str:
    """What ``executor="auto"`` means: serial for one worker; threads for ``pass_through`` and for
    ``s3://`` images (they wait on reads, not on the cores), and where workers cannot be forked
    (other Python threads run: see ``io.parallel.start_method``); processes otherwise. Each has
    its own interpreter lock, and the records come back through shared memory (``slots.py``):
    beside threads, the Python glue around the codec (about a tenth of an image's CPU) no longer
    waits for the lock, and neither does the parent writing the ``.rec``."""
    if executor != "auto":
        return executor
    if workers == 1:
        return "serial"
    return "thread" if options.pass_through or is_uri(root) or start_method() != "fork" else "process"


def iter_packed(
    table: LstTable,
    root: str,
    options: PackOptions,
    *,
    start: int = 0,
    stop: int | None = None,
    num_workers: int | None = None,
    executor: str = "auto",
    chunk_rows: int | None = None,
    framed: bool = False,
) -> Iterator[tuple[int, bytes | str]]:
    """``(row, payload or reason it failed)`` for rows ``[start, stop)``, in row order; with
    ``framed`` the payloads come framed for the file (see ``RecordWriter.write_framed``).

    ``executor``: ``"process"``, ``"thread"``, ``"serial"`` or ``"auto"`` (see :func:`choose_executor`).
    """
    for first, payloads in _iter_runs(table, root, options, start, stop, num_workers, executor, chunk_rows, framed, shared=False):
        for offset, payload in enumerate(payloads):
            yield first + offset, payload


def _iter_runs(table: LstTable, root: str, options: PackOptions, start: int, stop: int | None, num_workers: int | None,
               executor: str, chunk_rows: int | None, framed: bool, shared: bool) -> Iterator[tuple[int, list]]:
    """``(first row, payloads)`` for each run of rows, in order. With ``shared`` (and forked
    workers) framed payloads may be views of shared memory, valid only until the next run is
    asked for: write them out first."""
    stop = len(table) if stop is None else stop
    workers = max(1, num_workers or os.cpu_count() or 1)
    executor = choose_executor(executor, workers, options, root)
    size = chunk_rows or (64 if options.pass_through else 16)
    chunks = chunk_bounds(start, stop, size, max(1, workers) if executor != "serial" else 1)
    size = 1 if executor == "serial" else min(workers, len(chunks))
    in_flight = 2 * size + 2
    method, slots = None, None
    if executor == "process" and size > 1:
        _warm_imports(options)  # once here, not in every worker
        method = start_method()
        if shared and framed and method == "fork":
            slots = SharedSlots(in_flight + 2)  # map_ordered runs at most in_flight runs ahead of the one being written
    packer = _Packer(table, root, options, framed, slots)
    fn, init, items = packer.rows, None, chunks
    if method is not None:
        fn, init = (_rows_into_slot, _init_process) if slots else (_rows_in_process, _init_process)
        items = list(enumerate(chunks)) if slots else chunks
    mapped = map_ordered(fn, items, workers=size, kind=executor, in_flight=in_flight, initializer=init,
                         initargs=(packer,) if init else (), method=method)
    try:
        for index, ((first, _), (_, payloads)) in enumerate(zip(chunks, mapped)):
            yield first, _from_slot(slots.slot(index), payloads) if slots else payloads
    finally:
        mapped.close()  # stopped early (an error, --strict, Ctrl-C): the workers go first
        if slots:
            slots.close()


class FramedRun(NamedTuple):
    """A run whose records were all framed in its slot, one after the other: those bytes and each
    record's framed size."""

    block: memoryview
    sizes: list[int]


def _from_slot(slot: memoryview, payloads: list) -> list | FramedRun:
    """A run's payloads with each record's size in ``slot`` replaced by its view there; a
    :class:`FramedRun` when every record is there (none skipped, noted or sent apart)."""
    if all(type(payload) is int for payload in payloads):
        return FramedRun(slot[: sum(payloads)], payloads)
    at, out = 0, []
    for payload in payloads:
        payload, note = payload if isinstance(payload, tuple) else (payload, None)
        if isinstance(payload, int):
            payload, at = slot[at : at + payload], at + payload
        out.append(payload if note is None else (payload, note))
    return out


def _warm_imports(options: PackOptions) -> None:
    """What every worker needs, loaded once here (forked workers inherit it): the codecs, and
    OpenCV when images are resized (its import costs about 0.2 s of CPU, which each worker would
    otherwise pay again). Pillow's plugins (``Image.preinit``: 24 ms of CPU, 1% of packing 1,500
    JPEGs) are left to the workers that meet an image needing them (EXIF, PNG...): JPEGs without
    EXIF never do."""
    import simplejpeg  # noqa: F401

    transcode.available()  # libturbojpeg loaded once, here
    if options.resize and options.resize_method == "bilinear":
        opencv()  # the bilinear resize's fast path, single-threaded


def pack_lst(
    lst_path: str,
    root: str,
    out_prefix: str | None = None,
    *,
    options: PackOptions | None = None,
    num_workers: int | None = None,
    num_shards: int = 1,
    shard_index: int = 0,
    strict: bool = False,
    progress: Callable[[int], None] | None = None,
    on_skip: Callable[[Skipped], None] | None = None,
    on_start: Callable[[str, int], None] | None = None,
    on_warning: Callable[[Problem], None] | None = None,
    executor: str = "auto",
    checksum: bool = False,
) -> PackReport:
    """Pack the images of one ``.lst`` (rows of shard ``shard_index`` of ``num_shards``) into
    ``OUT.rec`` + ``OUT.idx`` (``OUT`` defaults to the list's path without ``.lst``).

    Records come in list order with ``id`` and ``.idx`` key = the list's index. ``on_start`` gets the
    list's path and its number of rows to pack; ``progress`` the number of rows done since its last
    call; ``on_skip`` each skipped image; ``on_warning`` each problem of the list's labels (as
    ``lst validate`` words it). ``strict`` turns the first bad image into an ``ImageError`` (and no
    output). Nothing packed (an empty list or shard, every image bad) is an error, and no output.
    ``checksum`` fills the report's ``sha256`` of the ``.rec`` as it is written.
    """
    options = options or PackOptions()
    _check_root(root)
    table = require_rows(read_lst(lst_path, ragged=True))  # detection lists vary in label count per line, as im2rec.py allows
    check_indices_for_packing(table)
    path_warnings = check_paths_for_packing(table, options.allow_absolute)
    for problem in label_warnings(table, options.pack_label) + path_warnings:
        if on_warning:
            on_warning(problem)
    prefix = output_prefix(lst_path, out_prefix, num_shards, shard_index)
    start, stop = shard_bounds(len(table), num_shards, shard_index)
    return pack_rows(table, root, prefix, start, stop, options=options, num_workers=num_workers, strict=strict, progress=progress,
                     on_skip=on_skip, on_start=on_start, on_warning=on_warning, executor=executor, checksum=checksum)


def _check_root(root: str) -> None:
    if not is_uri(root) and not os.path.isdir(root):
        raise InputNotFound(f"image root {root} is not a folder", root)


def pack_rows(
    table: LstTable,
    root: str,
    prefix: str,
    start: int = 0,
    stop: int | None = None,
    *,
    options: PackOptions | None = None,
    num_workers: int | None = None,
    strict: bool = False,
    progress: Callable[[int], None] | None = None,
    on_skip: Callable[[Skipped], None] | None = None,
    on_start: Callable[[str, int], None] | None = None,
    on_warning: Callable[[Problem], None] | None = None,
    executor: str = "auto",
    checksum: bool = False,
) -> PackReport:
    """Pack rows ``[start, stop)`` of a parsed list into ``PREFIX.rec`` + ``PREFIX.idx`` (what
    :func:`pack_lst` does once it has read the list and chosen the rows; same keywords)."""
    options = options or PackOptions()
    _check_root(root)
    if is_uri(root) and num_workers is None:
        num_workers = REMOTE_FETCHES  # object reads wait on the network, not on the cores
    stop = len(table) if stop is None else stop
    lst_path = table.path or "<lst>"
    report = PackReport(lst_path, prefix + ".rec", prefix + ".idx", rows=stop - start)
    if not options.pass_through and options.encoding == ".jpg" and options.color != -1:
        report.jpeg_path = transcode.codec_path()  # JPEG inputs take it; other formats the RGB path
    if on_start:
        on_start(lst_path, report.rows)
    began = time.perf_counter()
    with RecordWriter(report.rec_path, index=report.idx_path) as writer:
        runs = _iter_runs(table, root, options, start, stop, num_workers, executor, None, framed=True, shared=True)
        digest = hashlib.sha256() if checksum else None
        try:
            _write_in_order(writer, table, root, runs, report, strict, progress, on_skip, on_warning, digest)
        finally:
            runs.close()  # on an error too: the workers stop now, not when the garbage collector finds the runs
        if report.written == 0:
            raise IcformatError(_nothing_packed(report))
        report.bytes_written = writer.offset
        report.sha256 = digest.hexdigest() if digest else None
    report.seconds = time.perf_counter() - began
    return report


def _nothing_packed(report: PackReport) -> str:
    if report.rows == 0:
        return f"{report.lst_path}: this shard has no rows; nothing packed, nothing written (use fewer --num-shards)"
    first = f" (the first: {report.skipped[0]})" if report.skipped else ""
    return f"{report.lst_path}: none of the {report.rows:,} images could be packed{first}; nothing written"


def _write_in_order(writer: RecordWriter, table: LstTable, root: str, runs, report: PackReport, strict: bool, progress, on_skip,
                    on_warning=None, digest=None) -> None:
    """Write each run's framed records with their list index as key, one gathered write a run
    (before the next run is asked for: its records may be views of memory that run reuses); note
    (or, ``strict``, raise on) each failure; ``digest`` (a hashlib object) sees every byte of the ``.rec``."""
    done = reported = 0
    batch = writer.batch()
    for first, payloads in runs:
        if type(payloads) is FramedRun:  # every image of the run packed: one piece, one .idx extend
            count = len(payloads.sizes)
            batch.add_framed_run(payloads.block, payloads.sizes, table.indices[first : first + count].tolist())
            if digest is not None:
                digest.update(payloads.block)
            report.written += count
            done += count
        else:
            done += _add_records(batch, table, root, first, payloads, report, strict, on_skip, on_warning, digest)
        batch.flush()
        if progress and done - reported >= _PROGRESS_EVERY:
            progress(done - reported)
            reported = done
    if progress and done > reported:
        progress(done - reported)


def _add_records(batch, table: LstTable, root: str, first: int, payloads: list, report: PackReport, strict: bool, on_skip,
                 on_warning, digest) -> int:
    """Add a run's records one by one to ``batch``, noting (or, ``strict``, raising on) each
    image that failed and each note; returns the number of rows."""
    for row, payload in enumerate(payloads, first):
        if isinstance(payload, str):
            skip = Skipped(int(table.lines[row]), os.path.join(root, table.paths[row]), payload)
            if strict:
                raise ImageError(f"{skip.path} (line {skip.line}): {skip.reason}; stopped (--strict), nothing written")
            report.skipped.append(skip)
            if on_skip:
                on_skip(skip)
            continue
        if isinstance(payload, tuple):
            payload, note = payload
            report.notes.append(Skipped(int(table.lines[row]), os.path.join(root, table.paths[row]), note))
            if on_warning:
                on_warning(warning(table.path, "decode-warning", f"{table.paths[row]}: {note}", line=int(table.lines[row])))
        batch.add_framed(payload, key=int(table.indices[row]))
        if digest is not None:
            digest.update(payload)
        report.written += 1
    return len(payloads)


def im2rec(lst_or_prefix: str, root: str, out_prefix: str | None = None, **kwargs) -> list[PackReport]:
    """Pack every ``.lst`` named by ``lst_or_prefix`` (a file, or a prefix as im2rec takes); keyword
    arguments as :func:`pack_lst`."""
    return [pack_lst(lst, root, out, **kwargs) for lst, out in plan_packs(lst_or_prefix, out_prefix)]
