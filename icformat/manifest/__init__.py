"""Augmented manifests (JSON Lines) for SageMaker image classification: read, write, labels, validation."""
from .labels import CLASS_ID, LABEL_FORMATS, MULTI_HOT, LabelInfo, check_label, class_ids_to_multi_hot, decode_label, label_format_from_content_type, label_string_form, label_text, multi_hot_to_class_ids, parse_label
from ..errors import LabelError
from .parse import ManifestRow, ManifestRows, is_ref_attribute, parse_attribute_names, read_manifest, write_manifest
from ..io.objects import ObjectStore
from .refs import resolve_ref
from .validator import ManifestValidation
from ..problems import Problem
from .validate import validate_manifest

__all__ = [
    "CLASS_ID",
    "LABEL_FORMATS",
    "MULTI_HOT",
    "LabelError",
    "LabelInfo",
    "ManifestRow",
    "ManifestRows",
    "ObjectStore",
    "Problem",
    "ManifestValidation",
    "check_label",
    "class_ids_to_multi_hot",
    "decode_label",
    "is_ref_attribute",
    "label_format_from_content_type",
    "label_string_form",
    "label_text",
    "multi_hot_to_class_ids",
    "parse_attribute_names",
    "parse_label",
    "read_manifest",
    "resolve_ref",
    "validate_manifest",
    "write_manifest",
]
