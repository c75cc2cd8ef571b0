"""A worked ETL job with icformat as a library (no CLI): from a folder of class sub-folders of images
to a filtered, relabelled RecordIO file read back by the loader, through S3.

1. upload the images to an ``s3://`` prefix (``upload_folder``);
2. list the prefix and make a stratified train/val split (``make_lst(..., stratify=True)``);
3. write the training manifest to S3 (``lst_to_manifest``, references are ``s3://`` URIs);
4. convert the manifest into shards in a process pool, one ``manifest_to_rec(num_shards=N,
   shard_index=i)`` per task, bad rows skipped and reported (``on_error="skip"``);
5. filter and relabel the records of every shard into one ``.rec`` (drop a class, renumber the rest);
6. read it back: ``verify_rec``, ``rec_info`` and the ``ImageLoader``.

Run it against real S3 or any S3-compatible endpoint (``AWS_ENDPOINT_URL_S3``)::

    python examples/etl.py IMAGES_FOLDER s3://BUCKET/PREFIX WORK_FOLDER [--shards 3] [--drop-class NAME]

``tests/test_etl_example.py`` runs it against a local S3 server.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
from typing import Any

import numpy as np

from icformat import RecordReader, RecordWriter, rec_info, verify_rec
from icformat.convert import lst_to_manifest, manifest_to_rec
from icformat.io import upload_folder
from icformat.loader import ImageLoader
from icformat.lst import make_lst, read_lst
from icformat.recordio import IRHeader, pack, split_record

ATTRIBUTES = "source-ref,class"


def stratified_split(images: str, prefix: str, train_ratio: float = 0.8) -> dict[str, Any]:
    """Train/val lists of the images under ``images`` (an ``s3://`` prefix), each class split by the ratio."""
    made = make_lst(prefix, images, recursive=True, train_ratio=train_ratio, stratify=True)
    return {"classes": made.classes, "files": made.files, "images": made.images}


def convert_shard(job: tuple[str, str, int, int]) -> dict[str, Any]:
    """One pool task: shard ``index`` of ``count`` of the manifest, packed into ``dest``'s shard name."""
    manifest, dest, count, index = job
    stats = manifest_to_rec(manifest, dest, attribute_names=ATTRIBUTES, num_shards=count, shard_index=index, on_error="skip")
    return {"rec": stats.rec_path, "records": stats.records, "skipped": [p.to_dict() for p in stats.skipped]}


def convert_in_pool(manifest: str, dest: str, shards: int) -> list[dict[str, Any]]:
    """Every shard of ``manifest``, each in a worker process (spawned: safe beside any threads)."""
    jobs = [(manifest, dest, shards, i) for i in range(shards)]
    with multiprocessing.get_context("spawn").Pool(min(shards, os.cpu_count() or 1)) as pool:
        return pool.map(convert_shard, jobs)


def filter_and_relabel(recs: list[str], dest: str, relabel: dict[int, int]) -> int:
    """Copy the records of ``recs`` whose class is in ``relabel`` into ``dest`` (+ ``.idx``), with
    the new class ids; image bytes and record ids are kept. Returns the number written."""
    written = 0
    with RecordWriter(dest, index=True) as writer:
        for rec in recs:
            with RecordReader(rec) as reader:
                for offset, record in reader.iter_with_offsets():
                    header, labels, image = split_record(record, offset, reader.path)
                    old = int(labels[0])
                    if old in relabel:
                        writer.write(pack(IRHeader(0, float(relabel[old]), header.id, 0), bytes(image)), key=header.id)
                        written += 1
    return written


def read_back(rec: str, image_shape: tuple[int, int, int] = (3, 32, 32)) -> dict[str, Any]:
    """Check the file and load every image: the verdict, the label histogram, the labels loaded."""
    verdict = verify_rec(rec, decode=True)
    info = rec_info(rec)
    labels: list[float] = []
    with ImageLoader(rec, 8, image_shape, resize=image_shape[1], shuffle=False, num_workers=0) as loader:
        for batch in loader:
            labels += batch.label.tolist()
    return {"ok": verdict.ok, "problems": [p.to_dict() for p in verdict.problems], "records": info.records,
            "labels": labels}


def run(images_folder: str, s3_prefix: str, workdir: str, *, shards: int = 3, drop_class: str | None = None) -> dict[str, Any]:
    """The whole job; returns what each step produced."""
    s3_prefix = s3_prefix.rstrip("/")
    images = f"{s3_prefix}/images"
    uploaded = upload_folder(images_folder, images)
    split = stratified_split(images, os.path.join(workdir, "data"))
    manifest = f"{s3_prefix}/manifests/train.manifest"
    lines = lst_to_manifest(os.path.join(workdir, "data_train.lst"), manifest, prefix=images)
    converted = convert_in_pool(manifest, f"{s3_prefix}/rec/train.rec", shards)
    classes = split["classes"]
    kept = [i for i, name in enumerate(classes) if name != drop_class]
    relabel = {old: new for new, old in enumerate(kept)}
    final = os.path.join(workdir, "train-filtered.rec")
    written = filter_and_relabel([c["rec"] for c in converted], final, relabel)
    return {"uploaded": len(uploaded), "split": split, "manifest": manifest, "manifest_lines": lines, "shards": converted,
            "relabel": relabel, "written": written, "final": final, "read_back": read_back(final)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images_folder")
    parser.add_argument("s3_prefix")
    parser.add_argument("workdir")
    parser.add_argument("--shards", type=int, default=3)
    parser.add_argument("--drop-class", default=None, help="Class folder to leave out of the final .rec.")
    args = parser.parse_args(argv)
    os.makedirs(args.workdir, exist_ok=True)
    summary = run(args.images_folder, args.s3_prefix, args.workdir, shards=args.shards, drop_class=args.drop_class)
    summary["read_back"]["labels"] = dict(zip(*np.unique(summary["read_back"]["labels"], return_counts=True)))
    print(json.dumps(summary, indent=2, default=str))
    return 0 if summary["read_back"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
