"""What an MXNet image-classification graph ends in, read from its symbol JSON (no MXNet needed),
and the inference graph every backend runs: the scores layer followed by ``softmax`` (multi-class) or
``sigmoid`` (multi-label).

SageMaker's network ends in ``fc`` -> ``SoftmaxOutput`` (a training loss layer whose forward pass is
a softmax); a multi-label one in a logistic output. Serving and ONNX export replace that loss layer by
the plain activation over the same scores, so MXNet and onnxruntime run the same graph.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from ..errors import FormatError

SOFTMAX_HEADS = ("SoftmaxOutput", "softmax", "SoftmaxActivation")
SIGMOID_HEADS = ("LogisticRegressionOutput", "sigmoid")
SOFTMAX, SIGMOID = "softmax", "sigmoid"


@dataclass(frozen=True)
class Head:
    """The network's output: ``activation`` (softmax or sigmoid), the op it ended in and the name of
    the layer whose output holds the scores (``fc_output`` in SageMaker's graph)."""

    activation: str
    op: str
    scores_output: str


def read_head(symbol_json: str, source: str | None = None) -> Head:
    """The :class:`Head` of the symbol JSON text ``symbol_json``; ``FormatError`` for other endings."""
    try:
        graph = json.loads(symbol_json)
        nodes, heads = graph["nodes"], graph["heads"]
        last = nodes[heads[0][0]]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise FormatError(f"not an MXNet symbol JSON ({exc})", path=source) from exc
    op = last.get("op", "null")
    activation = _activation_of(last)
    if activation is None:
        raise FormatError(
            f"the network ends in the operator {op} ({last.get('name')}); icformat serves and exports networks "
            f"ending in {', '.join(SOFTMAX_HEADS + SIGMOID_HEADS)} or Activation(sigmoid)", path=source)
    scores = nodes[last["inputs"][0][0]]
    return Head(activation, op, f"{scores['name']}_output")


def _activation_of(node: dict) -> str | None:
    op = node.get("op")
    if op in SOFTMAX_HEADS:
        return SOFTMAX
    if op in SIGMOID_HEADS:
        return SIGMOID
    if op == "Activation" and (node.get("attrs") or node.get("param") or {}).get("act_type") == "sigmoid":
        return SIGMOID
    return None


def fixed_gamma_names(symbol_json: str) -> list[str]:
    """The ``gamma`` parameters of BatchNorm layers with ``fix_gamma`` on (MXNet's default), which MXNet
    ignores (it uses 1) although the checkpoint stores a value."""
    names = []
    for node in json.loads(symbol_json)["nodes"]:
        if node.get("op") != "BatchNorm":
            continue
        attrs = node.get("attrs") or node.get("param") or {}
        if str(attrs.get("fix_gamma", "True")).lower() in ("true", "1"):
            names.append(f"{node['name']}_gamma")
    return names


def inference_symbol(mx, symbol, head: Head):
    """``symbol`` with its loss layer replaced by ``softmax``/``sigmoid`` over the scores (output name
    ``probabilities``)."""
    scores = symbol.get_internals()[head.scores_output]
    if head.activation == SOFTMAX:
        return mx.sym.softmax(scores, axis=-1, name="probabilities")
    return mx.sym.sigmoid(scores, name="probabilities")
