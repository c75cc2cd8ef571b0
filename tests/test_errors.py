"""The error model: every error is an IcformatError of one family, and pickles intact."""
from __future__ import annotations

import inspect
import multiprocessing
import pathlib
import pickle
import re

import pytest

from icformat import errors
from icformat.errors import FormatError, IcformatError, InputNotFound, ManifestError, RemoteAccessError, UsageError

CLASSES = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, IcformatError)]


def _example(cls: type) -> IcformatError:
    if issubclass(cls, errors.WrongFileKind):
        return cls("a RecordIO file", "a .lst", "use `icformat rec verify`", "val.rec", kind="recordio")
    if issubclass(cls, FormatError):
        return cls("invalid JSON", "m.manifest", offset=120, line=11)
    if issubclass(cls, RemoteAccessError):
        return cls("s3://b/k: access denied", "s3://b/k")
    if issubclass(cls, (InputNotFound, UsageError)):
        return cls("x.rec: no such file", "x.rec")
    if cls is errors.ChannelUnreachable:
        return cls("no AWS credentials", "s3://b/train/")
    if cls is errors.HttpError:
        return cls(415, "unsupported content type text/plain")
    return cls("something went wrong")


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_error_pickles_to_the_same_type_message_and_attributes(cls):
    error = _example(cls)
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is cls
    assert str(back) == str(error)
    assert back.args == error.args
    assert vars(back) == vars(error)


def test_located_messages():
    assert str(ManifestError("invalid JSON", "m.manifest", 11)) == "m.manifest:11: invalid JSON"
    assert str(errors.RecordIOError("bad magic", "s3://b/x.rec", 4096)) == "s3://b/x.rec@4096: bad magic"
    assert str(errors.LstError("no path", None, 3)) == "<input>:3: no path"
    assert str(errors.ImageError("not an image")) == "not an image"
    wrong = errors.WrongFileKind("a RecordIO file", "a .lst", "use `icformat rec verify`", "val.rec", kind="recordio")
    assert str(wrong) == "val.rec is a RecordIO file, not a .lst: use `icformat rec verify`"
    assert (wrong.path, wrong.kind, wrong.reason) == ("val.rec", "recordio", "a RecordIO file, not a .lst: use `icformat rec verify`")
    assert isinstance(errors.NotRecordIOError("a JPEG image", "a RecordIO file", "pack it", "x.jpg"), errors.RecordIOError)
    line = errors.LineError("bad", "a.idx", 2)
    assert (line.path, line.line, line.offset, line.reason) == ("a.idx", 2, None, "bad")


def test_families_keep_the_standard_bases():
    assert issubclass(InputNotFound, FileNotFoundError)
    assert issubclass(FormatError, ValueError) and issubclass(UsageError, ValueError)
    assert issubclass(RemoteAccessError, OSError)
    assert issubclass(errors.MissingDependencyError, ImportError)
    for name in ("RecordIOError", "LstError", "ManifestError", "LabelError", "ImageError", "BadRecordError"):
        assert issubclass(getattr(errors, name), FormatError)
    for name in ("RemoteCredentialsError", "RemotePermissionError", "RemoteEndpointError", "RemoteNameError"):
        assert issubclass(getattr(errors, name), RemoteAccessError)
    assert errors.RemoteCredentialsError("m", "s3://b/k").reason == "credentials"


def _raise_manifest_error(_):
    raise ManifestError("invalid JSON", "m.manifest", 11)


def test_error_from_a_worker_process_reads_the_same():
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        with pytest.raises(ManifestError) as caught:
            pool.map(_raise_manifest_error, [0])
    assert str(caught.value) == "m.manifest:11: invalid JSON"
    assert (caught.value.path, caught.value.line) == ("m.manifest", 11)


def test_every_exception_class_lives_in_errors_py():
    package = pathlib.Path(errors.__file__).parent
    pattern = re.compile(r"^class [A-Za-z]\w*\((?:[\w.]*Error|[\w.]*Exception|[\w.]*Warning)\b", re.M)
    strays = [f"{p.relative_to(package)}: {m.group(0)}" for p in package.rglob("*.py") if p.name != "errors.py"
              for m in pattern.finditer(p.read_text()) if "Warning" not in m.group(0)]
    assert strays == []
