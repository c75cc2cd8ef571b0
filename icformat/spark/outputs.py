"""The driver's side of shard outputs: the JSON summary, and tidying up after retried or failed tasks.

Each task writes its shard through ``RecordWriter`` (a temporary name renamed on success locally, a
multipart upload completed on success on ``s3://``), so a shard is whole or absent whatever Spark
retries or runs twice. A task whose process was killed cannot clean up after itself: its temporary
file, or its open multipart upload, is removed here once the job is over.
"""
from __future__ import annotations

import glob
import json
import os
from typing import Iterable
from ..io.atomic import open_output
from ..io.paths import is_uri, local_path



def summary_path(base: str) -> str:
    """``out/train`` -> ``out/train-summary.json`` (beside the shards, never taken for one)."""
    return base + "-summary.json"


def write_summary(path: str, summary: dict) -> None:
    """Write the summary JSON atomically (local or ``s3://``)."""
    with open_output(path, "w") as out:
        out.write(json.dumps(summary, indent=2) + "\n")


def shard_files(prefixes: Iterable[str], with_index: bool = True) -> list[str]:
    """The ``.rec`` (and ``.idx``) paths of each shard prefix."""
    files = []
    for prefix in prefixes:
        files.append(prefix + ".rec")
        if with_index:
            files.append(prefix + ".idx")
    return files


def remove_leftovers(paths: Iterable[str]) -> int:
    """Remove what killed task attempts left behind for these outputs: local temporary files, open
    ``s3://`` multipart uploads. Returns how many were removed."""
    removed = 0
    for path in paths:
        removed += _abort_uploads(path) if is_uri(path) else _remove_temporaries(local_path(path))
    return removed


def remove_outputs(paths: Iterable[str]) -> None:
    """Delete finished outputs of a job that failed as a whole (no half a dataset left behind)."""
    for path in paths:
        if is_uri(path):
            bucket, key = _split(path)
            _client().delete_object(Bucket=bucket, Key=key)
        elif os.path.exists(local_path(path)):
            os.remove(local_path(path))


def _remove_temporaries(path: str) -> int:
    folder, name = os.path.split(os.path.abspath(path))
    found = glob.glob(os.path.join(glob.escape(folder), "." + glob.escape(name) + ".*.tmp"))
    for temporary in found:  # the names AtomicOutput gives its temporary files
        try:
            os.remove(temporary)
        except FileNotFoundError:
            pass
    return len(found)


def _abort_uploads(uri: str) -> int:
    if not uri.startswith("s3://"):
        return 0
    bucket, key = _split(uri)
    client = _client()
    uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", [])
    mine = [u for u in uploads if u["Key"] == key]
    for upload in mine:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"])
    return len(mine)


def _split(uri: str) -> tuple[str, str]:
    from ..io.paths import split_s3

    return split_s3(uri)


def _client():
    from ..io import s3

    return s3.client()
