"""Conversions between ``.lst`` files, augmented manifests and RecordIO ``.rec`` files (streaming)."""
from .lst_to_manifest import lst_to_manifest
from .manifest_to_lst import manifest_to_lst
from .manifest_to_rec import manifest_to_rec
from .rec_to_manifest import rec_to_manifest

__all__ = ["lst_to_manifest", "manifest_to_lst", "manifest_to_rec", "rec_to_manifest"]
