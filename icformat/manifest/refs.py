"""Objects that manifest references point at: resolve, read, check and write them, in parallel.

References are ``s3://`` URIs (as SageMaker requires), other smart_open URIs, or local paths.
A relative local path is taken relative to the manifest's own folder (or prefix), the way ``.lst``
paths are relative to their image root. ``s3://`` goes through one shared boto3 client, which takes
its endpoint and credentials from the usual AWS variables and config (``AWS_ENDPOINT_URL_S3``,
``AWS_ACCESS_KEY_ID``, ``~/.aws/config``, ...).
"""
from __future__ import annotations

import itertools
import os
import posixpath
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

from .. import streams
from ..errors import MissingDependencyError

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_WORKERS = 16


def base_of(manifest: streams.PathLike | None) -> str | None:
    """The folder (or URI prefix) that relative references of ``manifest`` are relative to."""
    if manifest is None or hasattr(manifest, "read"):
        return None
    text = os.fspath(manifest)
    if streams.is_uri(text):
        return text.rsplit("/", 1)[0]
    return os.path.dirname(os.path.abspath(streams.local_path(text)))


def resolve_ref(ref: str, base: str | None) -> str:
    """``ref`` as an absolute URI or path: URIs and absolute paths as they are, relative paths
    joined to ``base``."""
    if streams.is_uri(ref):
        return ref
    path = streams.local_path(ref)
    if os.path.isabs(path) or base is None:
        return path
    if streams.is_uri(base):
        return posixpath.join(base, path)
    return os.path.join(base, path)


def split_s3(uri: str) -> tuple[str, str]:
    """``s3://bucket/key/x.jpg`` -> ``("bucket", "key/x.jpg")``."""
    rest = uri[len("s3://"):]
    bucket, _, key = rest.partition("/")
    return bucket, key


def join_uri(prefix: str, relative: str) -> str:
    """``prefix`` + ``/`` + ``relative``, with exactly one slash between them."""
    if not prefix:
        return relative
    return prefix.rstrip("/") + "/" + relative.lstrip("/")


class ObjectStore:
    """Reads, checks and writes the objects behind references; safe to share between threads."""

    def __init__(self) -> None:
        self._client = None
        self._lock = threading.Lock()

    def s3(self):
        """The shared boto3 S3 client (created on first use)."""
        with self._lock:
            if self._client is None:
                try:
                    import boto3
                except ImportError as exc:
                    raise MissingDependencyError("s3:// needs boto3: pip install 'smart_open[s3]'") from exc
                self._client = boto3.session.Session().client("s3")
            return self._client

    def read(self, uri: str) -> bytes:
        """The whole object's bytes; raises ``OSError`` (or the transport's error) when unreadable."""
        if uri.startswith("s3://"):
            bucket, key = split_s3(uri)
            return self.s3().get_object(Bucket=bucket, Key=key)["Body"].read()
        with streams.open_input(uri, "rb") as f:
            return f.read()

    def check(self, uri: str) -> str | None:
        """None when ``uri`` can be read, else the reason why not."""
        try:
            if uri.startswith("s3://"):
                bucket, key = split_s3(uri)
                self.s3().head_object(Bucket=bucket, Key=key)
                return None
            if not streams.is_uri(uri):
                if os.path.isfile(uri):
                    return None if os.access(uri, os.R_OK) else "not readable (permissions)"
                return "no such file" if not os.path.exists(uri) else "not a regular file"
            with streams.open_input(uri, "rb") as f:
                f.read(1)
            return None
        except Exception as exc:  # boto3/smart_open raise transport-specific errors
            return describe_error(exc)

    def write(self, uri: str, data: bytes) -> None:
        """Store ``data`` at ``uri`` (local files appear whole, through a temporary name)."""
        if uri.startswith("s3://"):
            bucket, key = split_s3(uri)
            self.s3().put_object(Bucket=bucket, Key=key, Body=data)
            return
        with streams.open_output(uri, "wb") as out:
            out.write(data)


def describe_error(exc: BaseException) -> str:
    """A short reason for an I/O failure (botocore's error code when there is one)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        code = str(error.get("Code", ""))
        if code in ("404", "NoSuchKey", "NotFound"):
            return "no such object"
        if code in ("NoSuchBucket",):
            return "no such bucket"
        if code in ("403", "AccessDenied"):
            return "access denied"
        if code:
            return f"{code}: {error.get('Message', '')}".rstrip(": ")
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text


def choose_workers(workers: int | None, first_ref: str | None) -> int:
    """``workers`` when given; otherwise threads pay off only for remote objects: 16 for URIs
    (``s3://``...), 1 for local files (page-cache reads are faster inline than through a pool)."""
    if workers is not None:
        return max(1, int(workers))
    return DEFAULT_WORKERS if first_ref is not None and streams.is_uri(first_ref) else 1


def peek(items: Iterable[T]) -> tuple[T | None, Iterator[T]]:
    """The first item (None when empty) and an iterator over all of them."""
    iterator = iter(items)
    for first in iterator:
        return first, itertools.chain([first], iterator)
    return None, iter(())


def map_ordered(
    fn: Callable[[T], R], items: Iterable[T], *, workers: int = DEFAULT_WORKERS, in_flight: int | None = None
) -> Iterator[tuple[T, R]]:
    """Yield ``(item, fn(item))`` in input order, running ``fn`` on ``workers`` threads with at most
    ``in_flight`` items started ahead of the consumer. An exception from ``fn`` is raised when its
    item's turn comes; the work still queued is then cancelled."""
    if workers <= 1:
        for item in items:
            yield item, fn(item)
        return
    limit = in_flight or workers * 4
    pending: deque[tuple[T, Future]] = deque()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="icformat-fetch")
    try:
        for item in items:
            pending.append((item, pool.submit(fn, item)))
            if len(pending) >= limit:
                first, future = pending.popleft()
                yield first, future.result()
        while pending:
            first, future = pending.popleft()
            yield first, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
