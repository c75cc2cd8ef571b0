"""The one S3 client of icformat, ranged reads, and S3 failures as one-line ``IcformatError``s.

The client takes its endpoint and credentials from the usual AWS variables and config
(``AWS_ENDPOINT_URL_S3``, ``AWS_ACCESS_KEY_ID``, ``AWS_PROFILE``, ``~/.aws/config``...). It is created on
first use, shared by every thread of a process, and created afresh in a forked child (boto3 clients
do not survive a fork).
"""
from __future__ import annotations

import contextlib
import os
import threading
from typing import Iterator

from ..errors import (
    IcformatError,
    InputNotFound,
    MissingDependencyError,
    RemoteAccessError,
    RemoteCredentialsError,
    RemoteEndpointError,
    RemoteNameError,
    RemotePermissionError,
    UsageError,
)
from .paths import split_s3

MAX_CONNECTIONS = 64  # enough for the fetch threads of im2rec, validation and the loader
_lock = threading.Lock()
_state: dict = {}

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_CREDENTIALS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired"}
_PERMISSION = {"403", "AccessDenied", "Forbidden", "AllAccessDisabled"}
_CREDENTIAL_HINT = "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE"


def client():
    """The shared boto3 S3 client of this process."""
    with _lock:
        if _state.get("pid") != os.getpid():
            try:
                import boto3
                from botocore.config import Config
            except ImportError as exc:
                raise MissingDependencyError("s3:// needs boto3: pip install 'smart_open[s3]'") from exc
            config = Config(max_pool_connections=MAX_CONNECTIONS, retries={"mode": "standard"})
            _state["client"] = boto3.session.Session().client("s3", config=config)
            _state["pid"] = os.getpid()
        return _state["client"]


def reset_client() -> None:
    """Forget the shared client (after the AWS environment changed)."""
    with _lock:
        _state.clear()


def remote_error(exc: BaseException, uri: str) -> IcformatError | None:
    """``exc`` (from boto3, botocore or smart_open) as a one-line ``IcformatError`` naming ``uri``,
    or None when it is not an S3 access failure."""
    for inner in (getattr(exc, "backend_error", None), exc.__cause__):  # smart_open wraps botocore's error
        if inner is not None and inner is not exc:
            mapped = remote_error(inner, uri)
            if mapped is not None:
                return mapped
    if isinstance(exc, IcformatError):
        return exc
    try:
        import botocore.exceptions as bce
    except ImportError:
        return None
    if isinstance(exc, (bce.NoCredentialsError, bce.PartialCredentialsError)):
        return RemoteCredentialsError(f"{uri}: no AWS credentials found; {_CREDENTIAL_HINT}", uri)
    if isinstance(exc, (bce.ProfileNotFound, bce.CredentialRetrievalError)):
        return RemoteCredentialsError(f"{uri}: cannot load AWS credentials ({_first_line(exc)}); {_CREDENTIAL_HINT}", uri)
    if isinstance(exc, bce.ParamValidationError) and "bucket" in str(exc).lower():
        bucket = split_s3(uri)[0]
        return RemoteNameError(f"{uri}: {bucket!r} is not a valid S3 bucket name", uri)
    if isinstance(exc, (bce.EndpointConnectionError, bce.ConnectionError, bce.HTTPClientError)):
        return RemoteEndpointError(f"{uri}: cannot reach the S3 endpoint ({_first_line(exc)}); "
                                   "check the network and AWS_ENDPOINT_URL_S3", uri)
    if isinstance(exc, bce.ClientError):
        return _client_error(exc, uri)
    if isinstance(exc, bce.BotoCoreError):
        return RemoteAccessError(f"{uri}: {_first_line(exc)}", uri)
    return None


def _client_error(exc, uri: str) -> IcformatError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    bucket = split_s3(uri)[0]
    if code in _NOT_FOUND:
        return InputNotFound(f"{uri}: no such object", uri)
    if code == "NoSuchBucket":
        return InputNotFound(f"{uri}: no such bucket {bucket!r}", uri)
    if code == "InvalidBucketName":
        return RemoteNameError(f"{uri}: {bucket!r} is not a valid S3 bucket name", uri)
    if code in _CREDENTIALS:
        return RemoteCredentialsError(f"{uri}: AWS credentials rejected ({code}); {_CREDENTIAL_HINT}", uri)
    if code in _PERMISSION:
        return RemotePermissionError(f"{uri}: access denied; check the credentials' permissions on bucket {bucket!r}", uri)
    message = error.get("Message") or _first_line(exc)
    return RemoteAccessError(f"{uri}: {code}: {message}" if code else f"{uri}: {message}", uri)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def mapped_errors(uri: str) -> Iterator[None]:
    """Raise S3 failures inside the block as one-line ``IcformatError``s naming ``uri``."""
    try:
        yield
    except IcformatError:
        raise
    except Exception as exc:
        mapped = remote_error(exc, uri)
        if mapped is None:
            raise
        raise mapped from None


def object_location(uri: str) -> tuple[str, str]:
    """``(bucket, key)`` of an ``s3://`` URI that names an object: the one check, made before any
    request (smart_open would fail on ``s3://bucket`` with a traceback), that it names a bucket and a key."""
    bucket, key = split_s3(uri)
    if not bucket:
        raise UsageError(f"{uri}: no bucket; give s3://bucket/key", uri)
    if not key:
        raise UsageError(f"{uri}: names a bucket, not an object; give s3://{bucket}/key", uri)
    return bucket, key


def get(uri: str) -> bytes:
    """The whole object's bytes."""
    bucket, key = object_location(uri)
    with mapped_errors(uri):
        return client().get_object(Bucket=bucket, Key=key)["Body"].read()


def read_range(uri: str, start: int, length: int) -> bytes:
    """Up to ``length`` bytes of the object from byte ``start`` (fewer at its end, none past it).
    One request, no shared state: safe to call from any number of threads."""
    if length <= 0:
        return b""
    bucket, key = object_location(uri)
    try:
        with mapped_errors(uri):
            response = client().get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{start + length - 1}")
            return response["Body"].read()
    except RemoteAccessError as exc:
        if "InvalidRange" in str(exc):  # start at or past the end
            return b""
        raise


def head(uri: str) -> dict | None:
    """The object's metadata (``ContentLength``...), or None when it does not exist (a URI
    without a key names no object)."""
    bucket, key = split_s3(uri)
    if not bucket or not key:
        return None
    try:
        with mapped_errors(uri):
            return client().head_object(Bucket=bucket, Key=key)
    except InputNotFound:
        return None


def size(uri: str) -> int:
    """The object's size in bytes; ``InputNotFound`` when it does not exist."""
    meta = head(uri)
    if meta is None:
        raise InputNotFound(f"{uri}: no such object", uri)
    return int(meta["ContentLength"])


def put(uri: str, data: bytes, content_type: str | None = None) -> None:
    """Store ``data`` at ``uri`` in one request (with ``content_type`` as its Content-Type when given)."""
    bucket, key = object_location(uri)
    extra = {"ContentType": content_type} if content_type else {}
    with mapped_errors(uri):
        client().put_object(Bucket=bucket, Key=key, Body=data, **extra)


def delete(uri: str) -> None:
    """Remove the object at ``uri`` (nothing happens when there is none)."""
    bucket, key = split_s3(uri)
    with mapped_errors(uri):
        client().delete_object(Bucket=bucket, Key=key)


LIST_PAGE_SIZE = 1000  # keys per listing request (S3's maximum)


def iter_key_pages(bucket: str, prefix: str) -> Iterator[list[str]]:
    """The keys of ``bucket`` under ``prefix``, one list per page of ``LIST_PAGE_SIZE``, in the
    order S3 lists them (by key)."""
    with mapped_errors(f"s3://{bucket}/{prefix}"):
        pages = client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix,
                                                                   PaginationConfig={"PageSize": LIST_PAGE_SIZE})
        for page in pages:
            yield [obj["Key"] for obj in page.get("Contents", ())]


def list_keys(bucket: str, prefix: str) -> list[str]:
    """Every key of ``bucket`` under ``prefix`` (all pages), in the order S3 lists them."""
    return [key for page in iter_key_pages(bucket, prefix) for key in page]
