"""SageMaker image-classification hyperparameters: names, defaults and valid ranges.

SageMaker passes every hyperparameter as a string (``hyperparameters.json``).
``validate_hyperparameters`` checks such a mapping and returns every problem at once (each naming the
parameter, its valid range and where the value came from); ``parse_hyperparameters`` turns it into a
typed, frozen ``Hyperparameters`` or raises ``HyperparameterError`` listing every error.
``check_dataset`` compares them with what a channel holds (image count, labels, label width, smallest
image). Severity follows one rule: an error where SageMaker fails the job; a warning where it runs but
probably not as meant, or where the rule is not confirmed (``top_k=1``, unknown names). Pure Python:
no MXNet, no numpy.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Callable, Collection, Iterable, Mapping

from ..errors import HyperparameterError

ERROR, WARNING = "error", "warning"

IMAGENET_DEPTHS = (18, 34, 50, 101, 152, 200)
CIFAR_DEPTHS = (20, 32, 44, 56, 110)
OPTIMIZERS = ("sgd", "adam", "rmsprop", "nag")
AUGMENTATION_TYPES = ("crop", "crop_color", "crop_color_transform")
KV_STORES = ("dist_sync", "dist_async")
LOCAL_KV_STORES = ("device", "local")
PRECISIONS = ("float32", "float16")
#: keys SageMaker itself adds to hyperparameters.json (automatic model tuning, SDK bookkeeping)
_SERVICE_PREFIXES = ("_tuning_objective_metric", "sagemaker_")


@dataclass(frozen=True)
class Hyperparameters:
    """Typed hyperparameters with SageMaker's defaults (``None``: not set)."""

    num_classes: int
    num_training_samples: int
    augmentation_type: str | None = None
    beta_1: float = 0.9
    beta_2: float = 0.999
    checkpoint_frequency: int | None = None
    early_stopping: bool = False
    early_stopping_min_epochs: int = 10
    early_stopping_patience: int = 5
    early_stopping_tolerance: float = 0.0
    epochs: int = 30
    eps: float = 1e-8
    gamma: float = 0.9
    image_shape: tuple[int, int, int] = (3, 224, 224)
    kv_store: str | None = None
    learning_rate: float = 0.1
    lr_scheduler_factor: float = 0.1
    lr_scheduler_step: tuple[int, ...] = ()
    mini_batch_size: int = 32
    momentum: float = 0.9
    multi_label: bool = False
    num_layers: int = 152
    optimizer: str = "sgd"
    precision_dtype: str = "float32"
    resize: int | None = None
    top_k: int | None = None
    use_pretrained_model: bool = False
    use_weighted_loss: bool = False
    weight_decay: float = 0.0001
    model_prefix: str = ""
    #: what the run will do differently from what was asked (e.g. float16 on a CPU), one line each
    notes: tuple[str, ...] = ()

    @property
    def compute_dtype(self) -> str:
        """The dtype training runs in (float16 is a GPU mode: float32 on a CPU)."""
        return "float32" if any(n.startswith("precision_dtype") for n in self.notes) else self.precision_dtype

    @property
    def cifar_stem(self) -> bool:
        """True for the small-image depths (20, 32, 44, 56, 110)."""
        return self.num_layers in CIFAR_DEPTHS

    @property
    def distributed(self) -> bool:
        return self.kv_store in KV_STORES

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (image_shape as ``"3,224,224"``, the step list as ``"10,20"``)."""
        out = asdict(self)
        out["image_shape"] = ",".join(str(v) for v in self.image_shape)
        out["lr_scheduler_step"] = ",".join(str(v) for v in self.lr_scheduler_step) or None
        out["notes"] = list(self.notes)
        return out


# ---- value parsers: each takes the raw value and returns the typed one or raises ValueError ----

def _text(raw: Any) -> str:
    if isinstance(raw, bool):
        return "1" if raw else "0"
    return str(raw).strip()


def _int(raw: Any) -> int:
    text = _text(raw)
    try:
        return int(text)
    except ValueError:
        value = float(text)  # "32.0" from a JSON number written as float
        if not value.is_integer():
            raise
        return int(value)


def _float(raw: Any) -> float:
    value = float(_text(raw))
    if not math.isfinite(value):
        raise ValueError("not finite")
    return value


def _zero_one(raw: Any) -> bool:
    text = _text(raw).lower()
    if text in ("0", "1", "0.0", "1.0"):
        return float(text) == 1
    raise ValueError(text)


def _true_false(raw: Any) -> bool:
    text = _text(raw).lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError(text)


def _image_shape(raw: Any) -> tuple[int, int, int]:
    shape = tuple(int(v) for v in _text(raw).split(","))
    if len(shape) != 3 or shape[0] not in (1, 3) or min(shape) < 1:
        raise ValueError(raw)
    return shape  # type: ignore[return-value]


def _steps(raw: Any) -> tuple[int, ...]:
    text = _text(raw).strip("[]")
    steps = tuple(_int(v) for v in text.split(",") if v.strip())
    if not steps or min(steps) < 1 or list(steps) != sorted(set(steps)):
        raise ValueError(raw)
    return steps


def _optional_choice(choices: tuple[str, ...], none_words: tuple[str, ...] = ("", "none")) -> Callable[[Any], str | None]:
    def parse(raw: Any) -> str | None:
        text = _text(raw)
        if text.lower() in none_words:
            return None
        if text not in choices:
            raise ValueError(text)
        return text
    return parse


def _choice(choices: tuple) -> Callable[[Any], Any]:
    def parse(raw: Any) -> Any:
        kind = type(choices[0])
        value = _int(raw) if kind is int else _text(raw)
        if value not in choices:
            raise ValueError(raw)
        return value
    return parse


def _ranged(parse: Callable[[Any], Any], low=None, high=None) -> Callable[[Any], Any]:
    def check(raw: Any) -> Any:
        value = parse(raw)
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(raw)
        return value
    return check


_POSITIVE = _ranged(_int, 1)
_UNIT = _ranged(_float, 0.0, 1.0)

#: name -> (parser, valid range as told to the user)
SPEC: dict[str, tuple[Callable[[Any], Any], str]] = {
    "num_classes": (_POSITIVE, "a positive integer (required)"),
    "num_training_samples": (_POSITIVE, "a positive integer (required): the number of training images"),
    "augmentation_type": (_optional_choice(AUGMENTATION_TYPES), "one of crop, crop_color, crop_color_transform"),
    "beta_1": (_UNIT, "a float in [0, 1]"),
    "beta_2": (_UNIT, "a float in [0, 1]"),
    "checkpoint_frequency": (_POSITIVE, "a positive integer <= epochs"),
    "early_stopping": (_true_false, "True or False"),
    "early_stopping_min_epochs": (_POSITIVE, "a positive integer"),
    "early_stopping_patience": (_POSITIVE, "a positive integer"),
    "early_stopping_tolerance": (_UNIT, "a float in [0, 1]"),
    "epochs": (_POSITIVE, "a positive integer"),
    "eps": (_UNIT, "a float in [0, 1]"),
    "gamma": (_UNIT, "a float in [0, 1]"),
    "image_shape": (_image_shape, "'channels,height,width' with channels 1 or 3 and positive sizes, e.g. 3,224,224"),
    "kv_store": (_optional_choice(KV_STORES, ("", "none") + LOCAL_KV_STORES), "dist_sync or dist_async"),
    "learning_rate": (_UNIT, "a float in [0, 1]"),
    "lr_scheduler_factor": (_UNIT, "a float in [0, 1]"),
    "lr_scheduler_step": (_steps, "increasing positive epochs separated by commas, e.g. '10,20'"),
    "mini_batch_size": (_POSITIVE, "a positive integer"),
    "momentum": (_UNIT, "a float in [0, 1]"),
    "multi_label": (_zero_one, "0 or 1"),
    "num_layers": (_choice(IMAGENET_DEPTHS + CIFAR_DEPTHS),
                   "one of 18, 34, 50, 101, 152, 200 (large images) or 20, 32, 44, 56, 110 (small images)"),
    "optimizer": (_choice(OPTIMIZERS), "one of sgd, adam, rmsprop, nag"),
    "precision_dtype": (_choice(PRECISIONS), "float32 or float16"),
    "resize": (_POSITIVE, "a positive integer >= the height and width of image_shape"),
    "top_k": (_ranged(_int, 1), "an integer > 1 and <= num_classes"),
    "use_pretrained_model": (_zero_one, "0 or 1"),
    "use_weighted_loss": (_zero_one, "0 or 1"),
    "weight_decay": (_UNIT, "a float in [0, 1]"),
    "model_prefix": (_text, "any text"),
}
REQUIRED = ("num_classes", "num_training_samples")


def _unknown(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, SPEC, n=1)
    if close:
        return f"unknown hyperparameter {name!r}; did you mean {close[0]}?"
    return f"unknown hyperparameter {name!r}; known: {', '.join(sorted(SPEC))}"


def _fail(name: str, problem: str) -> str:
    return f"hyperparameter {name}: {problem}; valid: {SPEC[name][1]}"


@dataclass(frozen=True)
class HyperparameterProblem:
    """One problem of a hyperparameter set: ``name`` the parameter, ``severity`` error or warning,
    ``source`` where the value came from (``--hp``, a file, a request...; None when not given)."""

    name: str
    message: str
    severity: str = ERROR
    source: str | None = None

    def __str__(self) -> str:
        return f"{self.message} (from {self.source})" if self.source else self.message


@dataclass(frozen=True)
class HyperparameterReview:
    """``validate_hyperparameters``' answer: the typed set (None when any error) and every problem."""

    hp: Hyperparameters | None
    problems: tuple[HyperparameterProblem, ...]

    @property
    def errors(self) -> list[HyperparameterProblem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[HyperparameterProblem]:
        return [p for p in self.problems if p.severity == WARNING]


def validate_hyperparameters(raw: Mapping[str, Any], *, device: str = "cpu", sources: Mapping[str, str] | None = None,
                             source: str | None = None) -> HyperparameterReview:
    """Every unknown, missing, invalid or contradictory hyperparameter of ``raw``, each with its
    source (``sources[name]``, else ``source``). ``device`` ("cpu" or "gpu") decides whether float16
    can run."""
    sources = sources or {}
    where = lambda name: sources.get(name, source)  # noqa: E731
    problems: list[HyperparameterProblem] = []
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name.startswith(_SERVICE_PREFIXES):
            continue
        if name not in SPEC:
            problems.append(HyperparameterProblem(name, _unknown(name) + "; whether SageMaker rejects or ignores unknown "
                                                  "names is not confirmed; icformat ignores it", WARNING, where(name)))
            continue
        if value is None:
            continue
        try:
            values[name] = SPEC[name][0](value)
        except (ValueError, TypeError):
            problems.append(HyperparameterProblem(name, _fail(name, f"got {_text(value)!r}"), ERROR, where(name)))
    given = {p.name for p in problems} | set(values)
    for name in REQUIRED:
        if name not in given:
            problems.append(HyperparameterProblem(name, _fail(name, "missing"), ERROR, None))
    problems += [HyperparameterProblem(name, message, severity, where(name))
                 for name, message, severity in _combinations(values)]
    notes = [str(p) for p in problems if p.severity == WARNING]
    if values.get("precision_dtype") == "float16" and device == "cpu":
        notes.append("precision_dtype float16 is a GPU mode: training on the CPU in float32")
    hp = None
    if not any(p.severity == ERROR for p in problems):
        known = {f.name for f in fields(Hyperparameters)}
        hp = Hyperparameters(**{k: v for k, v in values.items() if k in known}, notes=tuple(notes))
    return HyperparameterReview(hp, tuple(problems))


def parse_hyperparameters(raw: Mapping[str, Any], *, device: str = "cpu", sources: Mapping[str, str] | None = None,
                          source: str | None = None) -> Hyperparameters:
    """Typed hyperparameters from SageMaker's string mapping; ``HyperparameterError`` naming every
    error (its ``name`` is the first one's). Warnings become ``notes``."""
    review = validate_hyperparameters(raw, device=device, sources=sources, source=source)
    errors = review.errors
    if errors:
        text = " | ".join(str(p) for p in errors)
        if len(errors) > 1:
            text = f"{len(errors)} hyperparameter errors: {text}"
        raise HyperparameterError(text, name=errors[0].name)
    assert review.hp is not None
    return review.hp


def _combinations(v: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(name, message, severity)`` for each contradiction between valid values."""
    found = []
    epochs = v.get("epochs", 30)
    shape = v.get("image_shape", (3, 224, 224))
    if v.get("checkpoint_frequency") is not None and v["checkpoint_frequency"] > epochs:
        found.append(("checkpoint_frequency", _fail("checkpoint_frequency", f"{v['checkpoint_frequency']} is above "
                                                     f"epochs={epochs}"), ERROR))
    if v.get("resize") is not None and v["resize"] < max(shape[1], shape[2]):
        found.append(("resize", _fail("resize", f"{v['resize']} is smaller than image_shape {shape[1]}x{shape[2]}"), ERROR))
    if v.get("top_k") == 1:
        found.append(("top_k", "hyperparameter top_k: 1 is below the documented range (an integer > 1); whether SageMaker "
                      "rejects it is not confirmed (AWS's Kubernetes sample sets 1); top-1 accuracy is the accuracy "
                      "itself", WARNING))
    elif v.get("top_k") is not None and "num_classes" in v and v["top_k"] > v["num_classes"]:
        found.append(("top_k", _fail("top_k", f"{v['top_k']} is above num_classes={v['num_classes']}"), ERROR))
    if v.get("use_weighted_loss") and not v.get("multi_label"):
        found.append(("use_weighted_loss", _fail("use_weighted_loss", "1 needs multi_label=1"), ERROR))
    if v.get("use_pretrained_model") and v.get("num_layers", 152) in CIFAR_DEPTHS:
        found.append(("num_layers", f"hyperparameter num_layers: {v['num_layers']} has no pretrained model; with "
                      f"use_pretrained_model=1 valid: one of {', '.join(map(str, IMAGENET_DEPTHS))}", ERROR))
    if v.get("multi_label") and "num_classes" in v and v["num_classes"] < 2:
        found.append(("num_classes", _fail("num_classes", "multi_label=1 needs at least 2 classes"), ERROR))
    return found


def merge_hyperparameters(*sources: Mapping[str, Any]) -> dict[str, Any]:
    """Later sources win (e.g. a JSON file, then ``--hp NAME=VALUE`` options)."""
    merged: dict[str, Any] = {}
    for source in sources:
        merged.update(source)
    return merged


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """``{"epochs": "3"}`` from ``["epochs=3"]``; a ``HyperparameterError`` for an item without ``=``."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise HyperparameterError(f"--hp {item!r}: write NAME=VALUE, e.g. --hp epochs=10", name=name.strip())
        out[name.strip()] = value.strip()
    return out


# ---- dataset consistency --------------------------------------------------------------------

def check_dataset(
    hp: Hyperparameters,
    *,
    num_examples: int,
    labels: Iterable[Any] | Collection[float],
    label_width: int | None,
    min_image_shape: tuple[int, int] | None = None,
    channel: str = "train",
) -> list[str]:
    """The problems (one line each) SageMaker would fail on, for one channel holding
    ``num_examples`` images with ``labels`` (class ids, or multi-hot vectors), ``label_width``
    labels per record and smallest image ``(height, width)``. Empty when consistent."""
    if num_examples == 0:
        return [f"{channel} channel: it holds no images (empty channel)"]
    problems = []
    if channel == "train":
        if num_examples < hp.mini_batch_size:
            problems.append(f"{channel} channel: {num_examples:,} images, fewer than mini_batch_size={hp.mini_batch_size}; "
                            "the number of input images must be at least mini_batch_size")
    problems += check_labels(hp, labels, label_width, channel)
    if min_image_shape is not None and hp.resize is None:
        height, width = hp.image_shape[1:]
        if min_image_shape[0] < height or min_image_shape[1] < width:
            problems.append(f"{channel} channel: an image is {min_image_shape[0]}x{min_image_shape[1]}, smaller than "
                            f"image_shape {height}x{width}; set resize >= {max(height, width)} or a smaller image_shape")
    return problems


def schedule_batches_per_epoch(hp: Hyperparameters, workers: int = 1) -> int:
    """Batches per epoch as the learning-rate schedule counts them: from ``num_training_samples``, as
    MXNet's image-classification ``fit.py`` (which SageMaker's algorithm follows) computes its epoch
    size: ceil(floor(num_training_samples / workers) / mini_batch_size)."""
    return max(1, math.ceil((hp.num_training_samples // max(1, workers)) / hp.mini_batch_size))


def schedule_warning(hp: Hyperparameters, num_examples: int) -> str | None:
    """The warning when ``num_training_samples`` differs from the training image count: the job runs
    (AWS's own lst-format example ships 15240 for 15,420 images), but the ``lr_scheduler_step``
    schedule is counted from num_training_samples. None when they agree."""
    if num_examples == hp.num_training_samples:
        return None
    if hp.lr_scheduler_step:
        batches = schedule_batches_per_epoch(hp)
        effect = (f"the learning rate drops after {'/'.join(str(s * batches) for s in hp.lr_scheduler_step)} batches "
                  f"({batches} per epoch from num_training_samples), not at epochs "
                  f"{','.join(map(str, hp.lr_scheduler_step))} of these images")
    else:
        effect = "it would move the learning-rate drops of an lr_scheduler_step off the epoch boundaries"
    return (f"train channel: {num_examples:,} images but num_training_samples={hp.num_training_samples:,}; the job runs, "
            f"but {effect}; set num_training_samples={num_examples}")


def check_labels(hp: Hyperparameters, labels: Iterable[Any], label_width: int | None, channel: str = "train") -> list[str]:
    """The label problems alone (range, whole ids, multi-label width and 0/1 values), one line each."""
    if hp.multi_label:
        if label_width is not None and label_width != hp.num_classes:
            return [f"{channel} channel: multi-label records carry {label_width} labels but num_classes={hp.num_classes}; "
                    "they must be equal"]
        if any(float(v) not in (0.0, 1.0) for vector in labels for v in _as_vector(vector)):
            return [f"{channel} channel: multi-label values must be 0 or 1 (multi-hot)"]
        return []
    if label_width is not None and label_width > 1:
        return [f"{channel} channel: records carry {label_width} labels each; set multi_label=1 "
                f"(with num_classes={label_width}) or pack one label per image"]
    bad = sorted({float(v) for v in labels if not (0 <= float(v) < hp.num_classes and float(v).is_integer())})
    if bad:
        shown = ", ".join(f"{v:g}" for v in bad[:5]) + (" ..." if len(bad) > 5 else "")
        return [f"{channel} channel: label(s) {shown} outside 0..{hp.num_classes - 1} (num_classes={hp.num_classes}); "
                "labels must be whole class ids below num_classes"]
    return []


def _as_vector(value: Any) -> Iterable[Any]:
    return value if hasattr(value, "__iter__") else (value,)


def ensure_dataset(hp: Hyperparameters, **kwargs: Any) -> None:
    """``check_dataset`` that raises ``TrainingDataError`` with the first problem."""
    from ..errors import TrainingDataError

    problems = check_dataset(hp, **kwargs)
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise TrainingDataError(problems[0] + more)
