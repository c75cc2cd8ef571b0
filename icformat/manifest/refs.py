"""Manifest references: what a reference names, relative to the manifest that holds it.

References are ``s3://`` URIs (as SageMaker requires), other smart_open URIs, or local paths.
A relative local path is taken relative to the manifest's own folder (or prefix), the way ``.lst``
paths are relative to their image root. Reading them goes through :mod:`icformat.io`.
"""
from __future__ import annotations

import os
import posixpath

from ..io.paths import PathLike, is_uri, local_path


def base_of(manifest: PathLike | None) -> str | None:
    """The folder (or URI prefix) that relative references of ``manifest`` are relative to."""
    if manifest is None or hasattr(manifest, "read"):
        return None
    text = os.fspath(manifest)
    if is_uri(text):
        return text.rsplit("/", 1)[0]
    return os.path.dirname(os.path.abspath(local_path(text)))


def resolve_ref(ref: str, base: str | None) -> str:
    """``ref`` as an absolute URI or path: URIs and absolute paths as they are, relative paths
    joined to ``base``."""
    if is_uri(ref):
        return ref
    path = local_path(ref)
    if os.path.isabs(path) or base is None:
        return path
    if is_uri(base):
        return posixpath.join(base, path)
    return os.path.join(base, path)

