"""The manifest checker's state and rules: one :class:`Validator` fed a chunk of lines at a time,
line by line in Python here or through pyarrow in :mod:`.validate_arrow`, and the problems it found."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..errors import ManifestError
from ..problems import DUPLICATE_IMAGE, ERROR, WARNING, Problem, ValidationResult
from .labels import MULTI_HOT, LabelInfo, check_label
from ..errors import LabelError
from .parse import _BLANK, decode_line, is_ref_attribute, missing_attribute_message, ref_type_message
from ..io.objects import ObjectStore
from ..io.parallel import choose_workers, map_ordered
from .refs import resolve_ref

EMPTY_MANIFEST = "the manifest has no lines; SageMaker fails an empty channel with 'Got empty batch from pipe'"

# Problems on one line are listed in this order.
RANK_FILE, RANK_SYNTAX, RANK_PRESENCE, RANK_REF, RANK_LABEL, RANK_DUPLICATE, RANK_UNREACHABLE = range(7)
_KIND_TEXT = {"single": "a single class id", MULTI_HOT: "a multi-hot list", "class-id": "a class-id list"}


_RANK_CODES = {
    RANK_FILE: "attribute-names",
    RANK_SYNTAX: "invalid-json",
    RANK_PRESENCE: "missing-attribute",
    RANK_REF: "bad-reference",
    RANK_LABEL: "bad-label",
    RANK_DUPLICATE: DUPLICATE_IMAGE,
    RANK_UNREACHABLE: "unreadable-reference",
}
_EMPTY_POSITION = 99
# label problems by what labels.py says (the same words, with lst validate's codes where they agree)
_LABEL_CODES = (
    ("is out of range", "label-out-of-range"),
    ("is not a whole number", "label-not-integer"),
    ("multi-hot values must be 0 or 1", "multi-hot-value"),
    ("multi-hot label has", "multi-hot-width"),
    ("is listed twice", "duplicate-class-id"),
    ("must be a number", "label-not-number"),
    ("must be a finite number", "label-not-number"),
    ("values where line", "multi-hot-width"),
    ("where line", "label-kind"),
)


@dataclass
class ManifestValidation(ValidationResult):
    """The outcome of :func:`validate_manifest`: every :class:`Problem` and the ``rows`` read."""

    rows: int = 0

    def summary(self) -> str:
        return f"{self.path or '<manifest>'}: {self.rows:,} rows: {self.counts()}"


def presence_message(record: dict, name: str, names: Sequence[str]) -> str | None:
    """The problem with an attribute that is absent or null, if it is."""
    if record.get(name) is not None:
        return None
    return f"attribute {name!r} is null" if name in record else missing_attribute_message(name, names)


def attribute_names_problems(names: Sequence[str]) -> list[str]:
    """What is wrong with AttributeNames themselves for image classification."""
    problems = []
    refs = [n for n in names if is_ref_attribute(n)]
    if len(names) != 2:
        problems.append(
            f"image classification reads 2 attributes (the image reference, then the label); AttributeNames has {len(names)}: {', '.join(names)}"
        )
    if not refs:
        problems.append(
            f"no attribute in AttributeNames ends in -ref, so SageMaker would stream the text of {names[0]!r} instead of the image bytes"
        )
    elif not is_ref_attribute(names[0]):
        problems.append(
            f"the image attribute {refs[0]!r} must come first in AttributeNames (image, then label); got {', '.join(names)}"
        )
    if len(refs) > 1:
        problems.append(
            f"{refs[1]!r} ends in -ref, so SageMaker would send the object it points to, not a label; only the image attribute should end in -ref"
        )
    return problems


class Validator:
    """Accumulates the problems of one manifest, chunk after chunk, in line order."""

    def __init__(self, path: str | None, names: tuple[str, ...], *, num_classes: int | None, label_format: str | None):
        self.path = path
        self.names = names
        refs = [n for n in names if is_ref_attribute(n)]
        self.image_attr = refs[0] if refs else names[0]
        labels = [n for n in names if not is_ref_attribute(n) and n != self.image_attr]
        self.label_attr = labels[0] if labels else None
        self.num_classes = num_classes
        self.label_format = label_format
        self.found: list[tuple[int, int, int, str]] = []  # (line, rank, attribute position, message)
        self.rows = 0
        self.ref_arrays: list = []  # pyarrow string arrays of image references, in line order
        self.ref_lines: list[np.ndarray] = []
        self.label_reference: tuple[LabelInfo, int] | None = None
        self._verdicts: dict = {}
        for message in attribute_names_problems(names):
            self.add(0, RANK_FILE, 0, message)

    def add(self, line: int, rank: int, position: int, message: str) -> None:
        self.found.append((int(line), rank, position, message))

    # labels -------------------------------------------------------------------------------------
    def label_verdict(self, value: Any) -> LabelInfo | str:
        """The label's own :class:`LabelInfo`, or the message of what is wrong with it."""
        key = _cache_key(value)
        verdict = self._verdicts.get(key) if key is not None else None
        if verdict is None:
            try:
                verdict = check_label(value, self.label_format, self.num_classes)
            except LabelError as exc:
                verdict = exc.reason
            if key is not None:
                self._verdicts[key] = verdict
        return verdict

    def consistency_message(self, info: LabelInfo) -> str | None:
        """How a valid label disagrees with the first valid label of the file, if it does."""
        if self.label_reference is None:
            return None
        first, first_line = self.label_reference
        if info.kind != first.kind:
            return f"label is {_KIND_TEXT[info.kind]} where line {first_line} has {_KIND_TEXT[first.kind]}"
        if info.kind == MULTI_HOT and self.num_classes is None and info.width != first.width:
            return f"multi-hot label has {info.width} values where line {first_line} has {first.width}"
        return None

    def label_problem(self, value: Any, line: int) -> str | None:
        verdict = self.label_verdict(value)
        if isinstance(verdict, str):
            return verdict
        if self.label_reference is None:
            self.label_reference = (verdict, line)
        return self.consistency_message(verdict)

    # line by line -------------------------------------------------------------------------------
    def check_chunk_python(self, chunk: bytes, first_line: int) -> None:
        refs: list[str] = []
        lines: list[int] = []
        for line, raw in enumerate(chunk.split(b"\n"), first_line):
            if raw.strip(_BLANK):
                self.check_line(raw, line, refs, lines)
        self.collect_refs(refs, np.asarray(lines, dtype=np.int64))

    def check_line(self, raw: bytes, line: int, refs: list[str], lines: list[int]) -> None:
        self.rows += 1
        try:
            record = decode_line(raw, self.path, line)
        except ManifestError as exc:
            self.add(line, RANK_SYNTAX, 0, exc.reason)
            return
        for position, name in enumerate(self.names):
            value = record.get(name)
            if value is None:
                self.add(line, RANK_PRESENCE, position, presence_message(record, name, self.names))
            elif is_ref_attribute(name):
                message = ref_type_message(name, value)
                if message:
                    self.add(line, RANK_REF, position, message)
                elif name == self.image_attr:
                    refs.append(value)
                    lines.append(line)
            elif name == self.label_attr:
                message = self.label_problem(value, line)
                if message:
                    self.add(line, RANK_LABEL, position, message)

    def collect_refs(self, refs, lines: np.ndarray) -> None:
        import pyarrow as pa

        if len(lines):
            self.ref_arrays.append(refs if isinstance(refs, pa.Array) else pa.array(refs, pa.string()))
            self.ref_lines.append(lines)

    # whole file ---------------------------------------------------------------------------------
    def check_duplicates_and_refs(self, check_refs: bool, base: str | None, workers: int | None, progress=None, on_start=None) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        if not self.ref_arrays:
            return
        refs = pa.concat_arrays([a.cast(pa.large_string()) for a in self.ref_arrays])
        lines = np.concatenate(self.ref_lines)
        encoded = pc.dictionary_encode(refs)
        codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        dictionary = encoded.dictionary
        first = _first_positions(codes, len(dictionary))
        for row in np.flatnonzero(first[codes] != np.arange(len(codes))):
            ref = dictionary[int(codes[row])].as_py()
            self.add(lines[row], RANK_DUPLICATE, 0, f"same image as line {lines[first[codes[row]]]}: {ref}")
        if check_refs:
            self.check_reachable(dictionary.to_pylist(), codes, lines, base, workers, progress, on_start)

    def check_reachable(self, unique_refs: list[str], codes: np.ndarray, lines: np.ndarray, base, workers: int | None,
                        progress=None, on_start=None) -> None:
        store = ObjectStore()
        bad: dict[int, str] = {}
        workers = choose_workers(workers, resolve_ref(unique_refs[0], base) if unique_refs else None)
        if on_start is not None:
            on_start(len(unique_refs))
        for (code, ref), reason in map_ordered(lambda item: store.check(resolve_ref(item[1], base)), enumerate(unique_refs), workers=workers):
            if reason is not None:
                bad[code] = f"cannot read {ref!r}: {reason}"
            if progress is not None:
                progress(1)
        if bad:
            for row in np.flatnonzero(np.isin(codes, list(bad))):
                self.add(lines[row], RANK_UNREACHABLE, 0, bad[int(codes[row])])

    def result(self) -> ManifestValidation:
        if self.rows == 0:
            self.add(0, RANK_FILE, _EMPTY_POSITION, EMPTY_MANIFEST)
        self.found.sort(key=lambda item: item[:3])
        return ManifestValidation(self.path, [_problem(self.path, *item) for item in self.found], rows=self.rows)


def _problem(path: str | None, line: int, rank: int, position: int, message: str) -> Problem:
    code = "empty" if position == _EMPTY_POSITION else _RANK_CODES[rank]
    if rank == RANK_LABEL:
        code = next((c for words, c in _LABEL_CODES if words in message), code)
    return Problem(path, line or None, message, WARNING if rank == RANK_DUPLICATE else ERROR, code)


def _first_positions(codes: np.ndarray, count: int) -> np.ndarray:
    """For each code 0..count-1, the position of its first occurrence in ``codes``."""
    # dictionary_encode numbers values in order of first appearance: a first occurrence is a code
    # larger than every code before it. Checked, with a sort as the fallback.
    seen = np.maximum.accumulate(np.concatenate(([-1], codes[:-1])))
    first = np.flatnonzero(codes > seen)
    if len(first) == count and np.array_equal(codes[first], np.arange(count)):
        return first
    return np.unique(codes, return_index=True)[1]


def _cache_key(value: Any):
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (str, int, float)):
        return value if not isinstance(value, float) or value == value else None
    return None
