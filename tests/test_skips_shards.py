"""Readers and converters in ETL programs: on_error raise|skip|warn with what was skipped (lines,
codes), manifest_to_rec over rows and in shards as im2rec slices, progress callbacks (issue 15,
items 6, 8 and 10)."""
from __future__ import annotations

import json
import os
import pickle
import warnings

import numpy as np
import pytest

from icformat import Problem
from icformat.convert import manifest_to_rec, rec_to_manifest
from icformat.errors import FormatError, LstError, ManifestError, UsageError
from icformat.im2rec.plan import output_prefix, shard_bounds
from icformat.lst import read_lst
from icformat.manifest import read_manifest, validate_manifest, write_manifest
from icformat.recordio import IRHeader, RecordReader, RecordWriter, pack, read_index, unpack
from icformat.skips import SkippedRowWarning

NAMES = "source-ref,class"


def _photos(photo_tree) -> list[str]:
    return sorted(os.path.join(photo_tree, c, f) for c in sorted(os.listdir(photo_tree)) for f in sorted(os.listdir(os.path.join(photo_tree, c))))


@pytest.fixture
def records(photo_tree) -> list[dict]:
    """A manifest record per photo (12), labels 0..2, no index attribute."""
    return [{"source-ref": p, "class": int(p.split(os.sep)[-2][-1])} for p in _photos(photo_tree)]


@pytest.fixture
def bad_manifest(tmp_path, records) -> str:
    """Good rows around a bad JSON line (3), a missing label (5), a missing image (7), a text file (8)."""
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    lines = [json.dumps(records[0]), json.dumps(records[1]), "{not json", "", json.dumps({"source-ref": records[2]["source-ref"]}),
             json.dumps(records[3]), json.dumps({"source-ref": str(tmp_path / "gone.jpg"), "class": 1}),
             json.dumps({"source-ref": str(text), "class": 2}), json.dumps(records[4])]
    path = tmp_path / "bad.manifest"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _records(rec: str) -> list[tuple[int, float, bytes]]:
    with RecordReader(rec) as reader:
        out = []
        for record in reader:
            header, image = unpack(record)
            out.append((header.id, float(header.label), bytes(image)))
        return out


# ---- on_error -----------------------------------------------------------------------------------


def test_read_manifest_skips_bad_lines_with_their_numbers(bad_manifest):
    with pytest.raises(ManifestError, match=r"bad.manifest:3: invalid JSON"):
        list(read_manifest(bad_manifest, NAMES))
    rows = read_manifest(bad_manifest, NAMES, on_error="skip")
    assert [r.line for r in rows] == [1, 2, 6, 7, 8, 9]
    assert [(p.line, p.code) for p in rows.skipped] == [(3, "invalid-json"), (5, "missing-attribute")]
    assert all(isinstance(p, Problem) and p.path == bad_manifest and p.severity == "error" for p in rows.skipped)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert len(list(read_manifest(bad_manifest, NAMES, on_error="warn"))) == 6
    said = [str(w.message) for w in caught if w.category is SkippedRowWarning]
    assert len(said) == 2 and f"{bad_manifest}:3:" in said[0]
    with pytest.raises(UsageError, match="on_error"):
        read_manifest(bad_manifest, NAMES, on_error="ignore")


def test_read_manifest_takes_records(records):
    rows = list(read_manifest(records[:3] + [{"class": 1}], NAMES, on_error="skip"))
    assert [r.line for r in rows] == [1, 2, 3] and rows[0].record is records[0]
    again = read_manifest(rows, NAMES)  # rows read earlier keep their line numbers
    assert [r.values for r in again] == [r.values for r in rows]
    with pytest.raises(ManifestError, match=r"<input>:4: attribute 'source-ref' is missing"):
        list(read_manifest(records[:3] + [{"class": 1}], NAMES))


def test_manifest_to_rec_skips_bad_rows_and_says_which(bad_manifest, records, tmp_path):
    rec = str(tmp_path / "out.rec")
    with pytest.raises(ManifestError, match=":3: invalid JSON"):
        manifest_to_rec(bad_manifest, rec, attribute_names=NAMES)
    assert not os.path.exists(rec)
    stats = manifest_to_rec(bad_manifest, rec, attribute_names=NAMES, on_error="skip", workers=3)
    assert [(p.line, p.code) for p in stats.skipped] == [(3, "invalid-json"), (5, "missing-attribute"), (7, "unreadable-reference"),
                                                        (8, "not-an-image")]
    assert stats.records == 4 and stats.rows == 6
    written = _records(rec)
    # ids are the row positions in the whole manifest (bad rows counted), images kept as stored
    assert [(i, label) for i, label, _ in written] == [(0, 0.0), (1, 0.0), (4, 0.0), (7, 1.0)]
    with open(records[4]["source-ref"], "rb") as f:
        assert written[3][2] == f.read()
    assert read_index(rec[:-4] + ".idx")[0] == [0, 1, 4, 7]
    assert pickle.loads(pickle.dumps(stats.skipped)) == stats.skipped


def test_manifest_to_rec_nothing_packable_is_an_error(tmp_path, records):
    with pytest.raises(ManifestError, match="none of the rows could be packed"):
        manifest_to_rec([{"source-ref": str(tmp_path / "x.jpg"), "class": 0}], str(tmp_path / "x.rec"), attribute_names=NAMES,
                        on_error="skip")
    assert not os.path.exists(tmp_path / "x.rec")


def test_read_lst_on_error(tmp_path):
    lst = tmp_path / "a.lst"
    lst.write_text("0\t1\ta.jpg\nbroken line\n2\t0\tc.jpg\n3\t1\t2\td.jpg\n")
    with pytest.raises(LstError, match=":2:"):
        read_lst(str(lst))
    table = read_lst(str(lst), on_error="skip")
    assert table.paths == ["a.jpg", "c.jpg"] and [(p.line, p.code) for p in table.skipped] == [(2, "too-few-fields"), (4, "label-width")]
    assert read_lst(str(lst), strict=False).paths == ["a.jpg", "c.jpg"]  # the older spelling


def test_rec_to_manifest_skips_records_with_bad_labels(tmp_path, records):
    rec = str(tmp_path / "m.rec")
    with open(records[0]["source-ref"], "rb") as f:
        image = f.read()
    with RecordWriter(rec) as writer:
        for key, labels in ((5, [1.0, 0.0, 1.0]), (6, [0.5, 1.0, 0.0]), (7, [0.0, 1.0, 0.0])):  # id 6 is not multi-hot
            writer.write(pack(IRHeader(3, np.array(labels, np.float32), key, 0), image))
    options = dict(prefix=str(tmp_path / "imgs"), label_format="class-id")
    with pytest.raises(FormatError, match="record with id 6"):
        rec_to_manifest(rec, str(tmp_path / "m.manifest"), **options)
    count = rec_to_manifest(rec, str(tmp_path / "m.manifest"), on_error="skip", **options)
    assert count == 2 and [p.code for p in count.skipped] == ["bad-label"] and count.skipped[0].offset is not None
    assert [r.record["index"] for r in read_manifest(str(tmp_path / "m.manifest"), NAMES)] == [5, 7]


def test_lst_and_manifest_conversions_skip_bad_rows(tmp_path, bad_manifest):
    from icformat.convert import lst_to_manifest, manifest_to_lst

    lst = str(tmp_path / "m.lst")
    count = manifest_to_lst(bad_manifest, lst, attribute_names=NAMES, prefix=str(tmp_path.parent), on_error="skip")
    assert count == 6 and [p.line for p in count.skipped] == [3, 5]
    assert [e.index for e in read_lst(lst)] == [0, 1, 4, 5, 6, 7]  # positions in the whole manifest
    (tmp_path / "b.lst").write_text("0\t1\ta.jpg\nbad\n2\t0.5\tc.jpg\n3\t2\td.jpg\n")
    with pytest.raises(LstError, match=":2:"):
        lst_to_manifest(str(tmp_path / "b.lst"), str(tmp_path / "b.manifest"), prefix="s3://b/i")
    count = lst_to_manifest(str(tmp_path / "b.lst"), str(tmp_path / "b.manifest"), prefix="s3://b/i", on_error="skip")
    assert count == 3 and [(p.line, p.code) for p in count.skipped] == [(2, "too-few-fields")]
    assert pickle.loads(pickle.dumps(count)).skipped == count.skipped


# ---- rows and shards ------------------------------------------------------------------------------


def test_manifest_to_rec_from_rows_is_the_file_conversion(tmp_path, records):
    path = str(tmp_path / "m.manifest")
    write_manifest(path, records)
    manifest_to_rec(path, str(tmp_path / "file.rec"), attribute_names=NAMES)
    stats = manifest_to_rec(iter(records), str(tmp_path / "rows.rec"), attribute_names=NAMES)
    assert stats.records == 12 and stats.rec_path == str(tmp_path / "rows.rec")
    assert (tmp_path / "rows.rec").read_bytes() == (tmp_path / "file.rec").read_bytes()
    assert (tmp_path / "rows.idx").read_bytes() == (tmp_path / "file.idx").read_bytes()


@pytest.mark.parametrize("num_shards", [3, 4])
def test_shards_slice_as_im2rec_and_add_up_to_the_whole(tmp_path, records, num_shards):
    records = records[:10]  # 4 shards: 3, 3, 3 and 1 rows
    path = str(tmp_path / "m.manifest")
    write_manifest(path, records)
    whole = manifest_to_rec(path, str(tmp_path / "whole.rec"), attribute_names=NAMES)
    parts = []
    for shard in range(num_shards):
        stats = manifest_to_rec(path, str(tmp_path / "part.rec"), attribute_names=NAMES, num_shards=num_shards, shard_index=shard)
        assert stats.rec_path == output_prefix(str(tmp_path / "part.rec"), None, num_shards, shard) + ".rec"
        start, stop = shard_bounds(len(records), num_shards, shard)
        assert stats.records == stop - start
        parts += _records(stats.rec_path)
    assert parts == _records(whole.rec_path)  # same ids (positions in the whole manifest), same bytes
    rows = manifest_to_rec(records, str(tmp_path / "r.rec"), attribute_names=NAMES, num_shards=num_shards, shard_index=1)
    assert _records(rows.rec_path) == parts[slice(*shard_bounds(len(records), num_shards, 1))]
    with pytest.raises(UsageError, match="shard-index"):
        manifest_to_rec(path, str(tmp_path / "x.rec"), attribute_names=NAMES, num_shards=num_shards, shard_index=num_shards)


def test_an_empty_shard_is_an_error(tmp_path, records):
    with pytest.raises(ManifestError, match="this shard has no rows"):
        manifest_to_rec(records[:2], str(tmp_path / "x.rec"), attribute_names=NAMES, num_shards=3, shard_index=2)


def test_cli_manifest2rec_shards_and_skips(bad_manifest, tmp_path, capsys):
    from icformat.cli import main

    out = str(tmp_path / "cli.rec")
    assert main(["manifest2rec", bad_manifest, "-o", out, "--attribute-names", NAMES, "--num-shards", "2",
                 "--shard-index", "1", "--skip-bad-rows", "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["output"] == output_prefix(out, None, 2, 1) + ".rec" and report["records"] == 2
    assert [p["line"] for p in report["skipped"]] == [7, 8] and captured.err.count("warning: skipped") == 2
    assert main(["manifest2rec", bad_manifest, "-o", out, "--attribute-names", NAMES]) == 1
    assert ":3: invalid JSON" in capsys.readouterr().err and not os.path.exists(out)


# ---- progress -------------------------------------------------------------------------------------


def test_progress_callbacks(tmp_path, records, photo_tree):
    from icformat.lst import list_images, make_lst

    written, read, listed, made = [], [], [], []
    path = str(tmp_path / "m.manifest")
    assert write_manifest(path, records, progress=written.append) == 12 and sum(written) == 12
    assert len(list(read_manifest(path, NAMES, progress=read.append))) == 12 and sum(read) == 12
    images, _ = list_images(photo_tree, recursive=True, progress=listed.append)
    assert sum(listed) == len(images) == 12
    make_lst(str(tmp_path / "p"), photo_tree, recursive=True, progress=made.append)
    assert sum(made) == 12
    started, checked = [], []
    result = validate_manifest(path, NAMES, check_refs=True, progress=checked.append, on_start=started.append)
    assert result.ok and started == [12] and sum(checked) == 24  # 12 lines, then 12 references
    started, checked = [], []
    validate_manifest(path, NAMES, progress=checked.append, on_start=started.append)  # no references to check: lines
    assert sum(checked) == 12 and started == []
