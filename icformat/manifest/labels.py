"""Label values of augmented manifests: single class ids, multi-hot and class-id lists.

A label attribute may hold a number (``0``), a string of one (``"0"``), a JSON list (``[1, 0, 8]``,
as Ground Truth writes multi-label output) or a string of one (``"[1, 0, 1]"``, as the SageMaker
documentation shows). Lists are **multi-hot** vectors by default, as SageMaker reads them; the
**class-id** format (a list of class ids) must be named, usually through the channel's content type
``application/x-recordio; label-format=class-id``.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, NamedTuple, Sequence

import numpy as np

from ..errors import LabelError

MULTI_HOT = "multi-hot"
CLASS_ID = "class-id"
LABEL_FORMATS = (MULTI_HOT, CLASS_ID)
DEFAULT_LABEL_FORMAT = MULTI_HOT

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")


class LabelInfo(NamedTuple):
    """What a valid label is: ``kind`` ("single", "multi-hot" or "class-id") and ``width``
    (1 for a single class id, the list length otherwise)."""

    kind: str
    width: int


def check_label_format(label_format: str | None) -> str:
    """Return ``label_format`` or the default (multi-hot); refuse unknown names."""
    if label_format is None:
        return DEFAULT_LABEL_FORMAT
    name = label_format.strip().lower()
    if name not in LABEL_FORMATS:
        raise LabelError(f"unknown label format {label_format!r}; use one of: {', '.join(LABEL_FORMATS)}")
    return name


def label_format_from_content_type(content_type: str | None) -> str:
    """The label format named by a channel content type, e.g.
    ``application/x-recordio; label-format=class-id`` -> ``"class-id"``; multi-hot when absent."""
    if not content_type:
        return DEFAULT_LABEL_FORMAT
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "label-format":
            return check_label_format(value.strip().strip("\"'"))
    return DEFAULT_LABEL_FORMAT


def format_number(value: float) -> str:
    """``1.0`` -> ``1``, ``0.5`` -> ``0.5``: numbers as they read best in labels and messages."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value) if isinstance(value, int) else repr(float(value))


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return format_number(value)
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: Any, where: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LabelError(f"{where} must be a number, got {_describe(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise LabelError(f"{where} must be a finite number, got {_describe(value)}")
    return value


def decode_label(value: Any) -> int | float | list:
    """A label attribute as a number or a list of numbers (strings are read as JSON text)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise LabelError(f"label {_describe(value)} is not a valid JSON list") from None
        elif _NUMBER.fullmatch(text):
            value = json.loads(text)
        else:
            raise LabelError(f"label {_describe(value)} is neither a class id nor a list of labels")
    if isinstance(value, list):
        return [_number(v, "label list values") for v in value]
    return _number(value, "label")


def _class_id(value: float, num_classes: int | None, what: str = "class id") -> int:
    if isinstance(value, float) and not value.is_integer():
        raise LabelError(f"{what} {format_number(value)} is not a whole number")
    if value < 0 or (num_classes is not None and value >= num_classes):
        bound = f"[0, {num_classes})" if num_classes is not None else "0 or more"
        raise LabelError(f"{what} {format_number(value)} is out of range: must be {bound}")
    return int(value)


def check_label(value: Any, label_format: str | None = None, num_classes: int | None = None) -> LabelInfo:
    """Check one label attribute; returns its :class:`LabelInfo` or raises :class:`LabelError`.

    A scalar is a single class id in ``[0, num_classes)``. A list is read per ``label_format``:
    multi-hot (the default) holds only 0 and 1 and has ``num_classes`` values when that is known;
    class-id holds distinct class ids in ``[0, num_classes)``.
    """
    return _check_decoded(decode_label(value), check_label_format(label_format), num_classes)


def _check_decoded(decoded: int | float | list, label_format: str, num_classes: int | None) -> LabelInfo:
    if not isinstance(decoded, list):
        _class_id(decoded, num_classes)
        return LabelInfo("single", 1)
    if label_format == CLASS_ID:
        seen: set[int] = set()
        for v in decoded:
            cid = _class_id(v, num_classes)
            if cid in seen:
                raise LabelError(f"class id {cid} is listed twice")
            seen.add(cid)
        return LabelInfo(CLASS_ID, len(decoded))
    for v in decoded:
        if v not in (0, 1):
            hint = "; for lists of class ids use label format class-id" if v == int(v) and v > 1 else ""
            raise LabelError(f"multi-hot values must be 0 or 1, got {format_number(v)}{hint}")
    if num_classes is not None and len(decoded) != num_classes:
        raise LabelError(f"multi-hot label has {len(decoded)} values but num_classes is {num_classes}")
    return LabelInfo(MULTI_HOT, len(decoded))


def parse_label(value: Any, label_format: str | None = None, num_classes: int | None = None) -> float | np.ndarray:
    """A checked label as training code uses it: a float class id for single labels, a float32
    multi-hot vector for multi-label ones (class-id lists are expanded to ``num_classes`` values,
    which is then required)."""
    decoded = decode_label(value)
    info = _check_decoded(decoded, check_label_format(label_format), num_classes)
    if info.kind == "single":
        return float(decoded)
    if info.kind == MULTI_HOT:
        return np.asarray(decoded, dtype=np.float32)
    if num_classes is None:
        raise LabelError("class-id labels need the number of classes to become multi-hot vectors; pass num_classes (--num-classes)")
    return class_ids_to_multi_hot(decoded, num_classes)


def class_ids_to_multi_hot(class_ids: Sequence[float], num_classes: int) -> np.ndarray:
    """``[0, 2]``, 3 -> ``[1, 0, 1]`` (float32)."""
    vector = np.zeros(num_classes, dtype=np.float32)
    vector[[_class_id(c, num_classes) for c in class_ids]] = 1.0
    return vector


def multi_hot_to_class_ids(vector: Sequence[float]) -> list[int]:
    """``[1, 0, 1]`` -> ``[0, 2]``; values other than 0 and 1 are refused."""
    ids = []
    for i, v in enumerate(vector):
        if v not in (0, 1):
            raise LabelError(f"cannot write class ids: multi-hot value {format_number(float(v))} at position {i} is not 0 or 1")
        if v == 1:
            ids.append(i)
    return ids


def label_text(labels: Sequence[float], label_format: str | None = None) -> str:
    """The string a manifest stores for ``labels`` (one or more numbers, e.g. a ``.lst`` row).

    One label and no format: ``"3"``. Otherwise a list as the SageMaker documentation writes it:
    multi-hot ``"[1, 0, 1]"`` or class-id ``"[0, 2]"``.
    """
    values = [float(v) for v in labels]
    if label_format is None and len(values) == 1:
        return format_number(values[0])
    if check_label_format(label_format) == CLASS_ID:
        return "[" + ", ".join(str(i) for i in multi_hot_to_class_ids(values)) + "]"
    return "[" + ", ".join(format_number(v) for v in values) + "]"


def label_string_form(value: Any) -> str:
    """The "string representation" SageMaker streams for a non-reference attribute value.

    UNCONFIRMED in SageMaker's documentation, chosen here: a JSON string goes without its quotes
    (``"0"`` -> ``0``, as the documentation's ``"1"`` example suggests); any other JSON value is
    written as ``json.dumps`` writes it (``0`` -> ``0``, ``[1,0,8]`` -> ``[1, 0, 8]``,
    ``true`` -> ``true``), which our reader and :func:`parse_label` read back to the same label.
    """
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
