"""``icformat export`` (full environment: MXNet + onnx 1.14): the exported graph's form, and its
probabilities on onnxruntime (run by the core environment's interpreter, since onnxruntime needs
numpy 2) equal MXNet's unfused path. The core environment's own tests use the committed export."""
from __future__ import annotations

import json
import os
import tempfile

import numpy as np
import pytest

from icformat.cli import main
from icformat.errors import FormatError
from icformat.serve import preprocess

from .serve_support import FIXTURES, onnxruntime_in_core_env

from .conftest import HAS_MXNET

if HAS_MXNET:  # the full environment must have onnx (an import error here is a failure, not a skip)
    import onnx
else:
    pytestmark = pytest.mark.skip(reason="mxnet not installed (core environment): ONNX export test skipped")


@pytest.fixture(scope="module")
def exported(mx, tmp_path_factory):
    from .serve_models import cached_model

    folder = tmp_path_factory.mktemp("onnx")
    out = {}
    for multi_label in (False, True):
        dest = str(folder / f"m{int(multi_label)}.onnx")
        assert main(["export", "--model", cached_model(multi_label), "-o", dest]) == 0
        out[multi_label] = dest
    return out


@pytest.mark.parametrize("multi_label", [False, True], ids=["softmax", "multi-label"])
def test_export_form(exported, multi_label):
    model = onnx.load(exported[multi_label])
    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    assert [i.name for i in graph.input] == ["data"]  # weights are constants, not inputs
    dims = graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [3, 32, 32]
    assert graph.node[-1].op_type == ("Sigmoid" if multi_label else "Softmax")
    assert any(n.op_type == "BatchNormalization" and n.name == "bn_data" for n in graph.node)  # raw pixels in
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["image_shape"]) == [3, 32, 32]
    assert meta["activation"] == ("sigmoid" if multi_label else "softmax")
    assert model.opset_import[0].version == 15
    gamma = onnx.numpy_helper.to_array(initializers["bn_data_gamma"])
    np.testing.assert_array_equal(gamma, 1)  # fix_gamma: the stored 0.5 is not what MXNet computes with
    used = {name for n in graph.node for name in n.input}
    assert set(initializers) <= used


@pytest.mark.parametrize("multi_label", [False, True], ids=["softmax", "multi-label"])
def test_export_probabilities_equal_mxnet(exported, mx, photos, multi_label, tmp_path):
    """Exported here, run on onnxruntime in the core environment (numpy 2)."""
    from icformat.image import encode_jpeg

    from .serve_models import cached_model, oracle_probabilities

    batch = np.stack([preprocess(encode_jpeg(p, 90), (3, 32, 32)) for p in list(photos.values())[:6]])
    got = onnxruntime_in_core_env(exported[multi_label], batch, tmp_path)
    np.testing.assert_allclose(got, oracle_probabilities(mx, cached_model(multi_label), batch), atol=1e-5)


def test_committed_fixtures_are_reproduced(mx):
    """tests/data/serve/make_fixtures.py still writes exactly the committed export and expectations."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_fixtures", os.path.join(FIXTURES, "make_fixtures.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with tempfile.TemporaryDirectory() as tmp:
        module.build(tmp)
        for name in ("tiny-resnet.onnx", "tiny-resnet-ml.onnx", "photo-0.jpg", "photo-1.png"):
            with open(os.path.join(tmp, name), "rb") as a, open(os.path.join(FIXTURES, name), "rb") as b:
                assert a.read() == b.read(), name
        fresh = json.load(open(os.path.join(tmp, "expected.json")))
        committed = json.load(open(os.path.join(FIXTURES, "expected.json")))
        for model in committed:
            for photo in committed[model]:
                np.testing.assert_allclose(fresh[model][photo], committed[model][photo], atol=1e-6)


def test_unsupported_operator_is_named(mx, tmp_path):
    from icformat.serve.onnx_export import export_onnx
    from icformat.train.artifacts import MODEL_PREFIX, write_model_tarball

    flat = mx.sym.Flatten(mx.sym.Variable("data"))
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.khatri_rao(flat, flat), num_hidden=2, name="fc"),
                               name="softmax")
    params = {"fc_weight": mx.nd.ones((2, 12)), "fc_bias": mx.nd.zeros(2)}
    mx.model.save_checkpoint(str(tmp_path / MODEL_PREFIX), 1, net, params, {})
    write_model_tarball(str(tmp_path / "m.tar.gz"), str(tmp_path), [1], (1, 3, 2, 2))
    with pytest.raises(FormatError, match="no converter for the operator khatri_rao"):
        export_onnx(str(tmp_path / "m.tar.gz"), str(tmp_path / "m.onnx"))
    assert not (tmp_path / "m.onnx").exists()


def test_export_cli_errors(mx, tmp_path, capsys):
    from .serve_models import cached_model

    assert main(["export", "--model", str(tmp_path / "none.tar.gz"), "-o", str(tmp_path / "x.onnx")]) == 1
    assert "no such model archive" in capsys.readouterr().err
    assert main(["export", "--model", cached_model(), "-o", str(tmp_path / "x.onnx"), "--opset", "9"]) == 1
    assert "--opset 9 is not supported" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()


def test_export_prints_its_result_on_stdout(mx, tmp_path, capsys):
    """Issue 22, item 10: results go to stdout, as every other command's."""
    from .serve_models import cached_model

    dest = str(tmp_path / "m.onnx")
    assert main(["export", "--model", cached_model(), "-o", dest]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{dest}: opset ") and "classes" in out and dest not in err
