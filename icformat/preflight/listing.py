"""What a channel holds, listed as SageMaker sees it: every object under an ``S3Prefix`` (a plain
prefix match, recursive), or every file under a local folder (or the one file named).

Failures to look (no credentials, no such bucket, access denied, no connection) raise
:class:`ChannelUnreachable`: preflight then says "could not check", not "will fail".
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..io.paths import is_uri, local_path
from ..errors import ChannelUnreachable, IcformatError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class Entry:
    """One object of a channel: its path relative to the channel, full URI or path, size in bytes."""

    relative: str
    uri: str
    size: int
    stray: bool = False  # matched by a prefix without a trailing slash, but outside its folder


def list_channel(uri: str) -> list[Entry]:
    """Every object of the channel at ``uri`` in name order (an empty list: nothing there)."""
    if uri.startswith("s3://"):
        return _list_s3(uri)
    if is_uri(uri):
        raise ChannelUnreachable("preflight reads s3:// and local channels only", uri)
    return _list_local(local_path(uri))


def _list_local(path: str) -> list[Entry]:
    if os.path.isfile(path):
        return [Entry(os.path.basename(path), path, os.path.getsize(path))]
    if not os.path.isdir(path):
        return []
    entries = []
    for folder, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(folder, name)
            if name.startswith(".") or not os.path.isfile(full):
                continue
            entries.append(Entry(os.path.relpath(full, path).replace(os.sep, "/"), full, os.path.getsize(full)))
    return entries


def _list_s3(uri: str) -> list[Entry]:
    from ..io.objects import ObjectStore, describe_error
    from ..io.paths import split_s3

    bucket, prefix = split_s3(uri)
    if not bucket:
        raise ChannelUnreachable("no bucket in the URI; write s3://bucket/prefix", uri)
    entries = []
    try:
        client = ObjectStore().s3()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", ()):
                key = obj["Key"]
                if not key.endswith("/"):
                    entries.append(_s3_entry(bucket, prefix, key, int(obj.get("Size", 0))))
    except Exception as exc:  # botocore raises transport-specific errors; the I/O layer its own
        raise ChannelUnreachable(f"cannot list the channel ({_reason(exc, describe_error)})", uri) from exc
    return entries


def _s3_entry(bucket: str, prefix: str, key: str, size: int) -> Entry:
    uri = f"s3://{bucket}/{key}"
    if not prefix or prefix.endswith("/"):
        return Entry(key[len(prefix):], uri, size)
    if key == prefix:
        return Entry(key.rsplit("/", 1)[-1], uri, size)
    if key.startswith(prefix + "/"):
        return Entry(key[len(prefix) + 1:], uri, size)
    return Entry(key[prefix.rfind("/") + 1:], uri, size, stray=True)


def _reason(exc: BaseException, describe) -> str:
    if isinstance(exc, IcformatError):
        return str(exc)
    name = type(exc).__name__
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return "no AWS credentials; configure them (aws configure, AWS_PROFILE) and run again"
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"):
        return f"cannot connect to S3: {exc}"
    return describe(exc)


def stray_objects(entries: list[Entry]) -> list[str]:
    """Objects a prefix without a trailing slash also matches (``s3://b/train`` matches
    ``train_lst/...``): SageMaker downloads them into the channel too. Their top-level names."""
    return sorted({e.relative.split("/", 1)[0] + ("/" if "/" in e.relative else "") for e in entries if e.stray})


def is_image(entry: Entry) -> bool:
    return entry.relative.lower().endswith(IMAGE_SUFFIXES)
