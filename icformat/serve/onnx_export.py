"""``model.tar.gz`` -> ONNX, with MXNet's own converter (``mx.onnx``, needs ``onnx`` 1.14 beside
MXNet 1.9.1 and numpy 1.23), fixed where it falls short for SageMaker's network:

- the ``SoftmaxOutput``/``LogisticRegressionOutput`` loss layer (which the converter cannot export)
  becomes ``softmax``/``sigmoid`` over the scores, the graph the MXNet backend serves;
- BatchNorm layers with ``fix_gamma`` (``bn_data`` and MXNet's default) get gamma 1, as MXNet computes
  them; the converter would use the stored gamma;
- weights are constant initializers, not graph inputs, so onnxruntime can fold and fuse them;
- the batch dimension is dynamic; ``image_shape``, ``classes`` and ``activation`` go into the metadata.

The graph still takes raw 0-255 RGB pixels: the input ``bn_data`` normalisation is kept.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass

from ..io.atomic import open_output
from ..errors import FormatError, IcformatError, MissingDependencyError
from ..train.artifacts import extract_model_tarball
from ..mxnet_runtime import import_mxnet
from .graph import fixed_gamma_names, inference_symbol
from .model import ONNXRUNTIME, backend_of, find_classes_file, load_classes
from .mxnet_backend import inspect_model
from .onnx_backend import META_ACTIVATION, META_CLASSES, META_IMAGE_SHAPE

DEFAULT_OPSET = 15  # BatchNormalization-14 semantics (the inference form, no momentum ambiguity)
MIN_OPSET = 12  # the converter's oldest


@dataclass(frozen=True)
class ExportReport:
    """What was written: path, opset, input shape, classes, activation and how many fix_gamma
    BatchNorm layers had their stored gamma replaced by 1."""

    path: str
    opset: int
    image_shape: tuple[int, int, int]
    num_classes: int
    activation: str
    classes: tuple[str, ...] | None
    fixed_gammas: int


def import_onnx():
    """``onnx``, or a clear error saying how to install it."""
    try:
        import onnx
        import onnx.checker
        import onnx.defs
        import onnx.helper
    except ImportError as exc:
        raise MissingDependencyError(
            "export needs onnx beside MXNet: pip install 'onnx==1.14.1' (works with numpy 1.23)") from exc
    return onnx


def export_onnx(model: str, dest: str, *, opset: int = DEFAULT_OPSET, classes: str | None = None) -> ExportReport:
    """Export ``model`` (local or ``s3://``) to ``dest``; ``dest`` appears only once complete."""
    if backend_of(model) == ONNXRUNTIME:
        raise IcformatError(f"{model} is already an ONNX model; export takes a model.tar.gz or its folder")
    mx, onnx = import_mxnet(), import_onnx()
    if not MIN_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise IcformatError(f"--opset {opset} is not supported: use {MIN_OPSET} to {onnx.defs.onnx_opset_version()}")
    with tempfile.TemporaryDirectory(prefix="icformat-export-") as tmp:
        files = extract_model_tarball(model, tmp)
        head, shape = inspect_model(files, model)
        with open(files.symbol_path) as f:
            symbol_json = f.read()
        symbol, args, aux = mx.model.load_checkpoint(files.prefix, files.epoch)
        net = inference_symbol(mx, symbol, head)
        check_operators(net, opset, model)
        params = {k: v for k, v in {**args, **aux}.items() if k in set(net.list_inputs())}
        fixed = [g for g in fixed_gamma_names(symbol_json) if g in params]
        for name in fixed:
            params[name] = mx.nd.ones_like(params[name])
        proto = _convert(mx, onnx, net, params, shape, opset, model)
        num_classes = int(net.infer_shape(data=(1,) + shape)[1][0][-1])
        _name_dimensions(proto, num_classes)
        names = load_classes(classes or find_classes_file(files.folder), num_classes)
    _set_metadata(onnx, proto, shape, head.activation, names)
    onnx.checker.check_model(proto)
    with open_output(dest, "wb") as out:
        out.write(proto.SerializeToString())
    return ExportReport(os.fspath(dest), opset, shape, num_classes, head.activation, names, len(fixed))


def check_operators(net, opset: int, source: str) -> None:
    """``FormatError`` naming the first operator the converter cannot export at ``opset``."""
    from mxnet.onnx import get_operator_support

    supported = set(get_operator_support(opset))
    for node in json.loads(net.tojson())["nodes"]:
        if node["op"] != "null" and node["op"] not in supported:
            raise FormatError(f"cannot export to ONNX: no converter for the operator {node['op']} "
                              f"(layer {node['name']}) at opset {opset}", path=source)


def _convert(mx, onnx, net, params: dict, shape: tuple[int, int, int], opset: int, source: str):
    from mxnet.onnx.mx2onnx._export_onnx import MXNetGraph  # export_model() cannot choose the opset

    try:
        graph = MXNetGraph().create_onnx_graph_proto(
            net, params, in_shapes=[(1,) + shape], in_types=[onnx.TensorProto.FLOAT], opset_version=opset,
            dynamic=True, dynamic_input_shapes=[(None,) + shape])
    except (AttributeError, NotImplementedError, ValueError, KeyError, IndexError) as exc:
        raise FormatError(f"cannot export to ONNX: {exc}", path=source) from exc
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)],
                                   producer_name="icformat")
    weights_as_constants(proto)
    return proto


def weights_as_constants(proto) -> int:
    """Drop graph inputs that are initializers (the converter lists every weight as an input, which
    makes them overridable and keeps onnxruntime from folding them) and initializers no node uses;
    returns how many inputs were dropped."""
    used = {name for node in proto.graph.node for name in node.input}
    kept = [init for init in proto.graph.initializer if init.name in used]
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(kept)
    constants = {init.name for init in proto.graph.initializer}
    inputs = [i for i in proto.graph.input if i.name not in constants]
    dropped = len(proto.graph.input) - len(inputs)
    del proto.graph.input[:]
    proto.graph.input.extend(inputs)
    return dropped


def _name_dimensions(proto, num_classes: int) -> None:
    """Name the dynamic batch dimension ``batch`` and state the output's class count."""
    proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    out = proto.graph.output[0].type.tensor_type.shape
    del out.dim[:]
    out.dim.add().dim_param = "batch"
    out.dim.add().dim_value = num_classes


def _set_metadata(onnx, proto, shape, activation: str, classes) -> None:
    meta = {META_IMAGE_SHAPE: json.dumps(list(shape)), META_ACTIVATION: activation}
    if classes is not None:
        meta[META_CLASSES] = json.dumps(list(classes))
    onnx.helper.set_model_props(proto, meta)
