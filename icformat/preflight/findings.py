"""What preflight reports: one :class:`Finding` per problem, and the :class:`Report` that holds them.

A finding names where the problem is (channel, file, line or record offset), what is wrong, what to
change, and the SageMaker failure it prevents (the verbatim message where one is known, from the
reference's list of known errors). One rule decides the severity, for preflight and ``icformat train``
alike: ``error`` only where SageMaker itself fails the job (or icformat's trainer cannot run it),
``warning`` where the job runs but probably not as meant (or a rule the reference does not confirm),
``note`` for what matters only when training locally; ``unchecked`` where preflight could not look.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

ERROR = "error"
WARNING = "warning"
NOTE = "note"
UNCHECKED = "unchecked"

# Verbatim SageMaker image-classification errors (reference, section 5.4).
INVALID_LST = "Customer Error: Invalid lst file in the {channel} channel."
MULTI_LABEL_MISMATCH = ("ClientError: Mismatch between number of labels in the multi-label data ({width}) and the "
                        "num_classes parameter ({num_classes}).")
BATCH_TOO_BIG = "ClientError: The number of input images must be bigger or equal to the mini_batch_size."
EMPTY_REC = "ClientError: Unable to start training. Empty .rec file in {channel} channel., exit code: 2"
EMPTY_BATCH = ("ClientError: Got empty batch from pipe. Please check if the manifest file contains valid batches and "
               "the value of training job parameter AttributeNames matches attributes names in the augmented manifest.")
BAD_MAGIC = ("Algorithm Error: Internal Server Error + (Input Error) Unable to parse record: The Record IO header "
             "does not start with the magic number.")
POS_CLS_WEIGHTS = "Algorithm Error: pos_cls_weights (caused by KeyError)"
# Failures without a verbatim message on record: described, not quoted.
HYPERPARAMETER_REJECTED = "the job failing at start-up on hyperparameter validation (ClientError)"
TRAINING_FAILS_ON_IMAGE = "training failing on an image smaller than image_shape"
WRONG_TRAINING = "a job that runs but trains on wrong labels or silently skips data"
INCOMPATIBLE_MODEL = "the incremental-training job failing to load the model channel (shape mismatch)"


@dataclass(frozen=True)
class Finding:
    """One problem found. ``line`` is 1-based (text files), ``offset`` a byte offset (RecordIO)."""

    severity: str
    check: str
    message: str
    fix: str = ""
    prevents: str = ""
    channel: str | None = None
    path: str | None = None
    line: int | None = None
    offset: int | None = None

    @property
    def where(self) -> str:
        where = self.path or (f"channel {self.channel}" if self.channel else "job")
        if self.line is not None:
            where += f":{self.line}"
        elif self.offset is not None:
            where += f"@{self.offset}"
        return where

    def __str__(self) -> str:
        text = f"{self.severity}: {self.where}: {self.message}"
        if self.fix:
            text += f"\n    change: {self.fix}"
        if self.prevents:
            text += f"\n    prevents: {self.prevents}"
        return text

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ChannelSummary:
    """What preflight learned about one channel (for the report)."""

    name: str
    uri: str
    kind: str  # rec, images+lst, lst, manifest, model, unknown
    records: int = 0
    classes: int = 0
    files: int = 0


@dataclass
class Report:
    """Every finding of one preflight run, and the verdict."""

    findings: list[Finding] = field(default_factory=list)
    channels: list[ChannelSummary] = field(default_factory=list)
    source: str = ""

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)

    def extend(self, findings) -> None:
        self.findings.extend(findings)

    def of(self, severity: str) -> list[Finding]:
        return [f for f in self.findings if f.severity == severity]

    @property
    def exit_code(self) -> int:
        """0 will run, 1 will fail, 2 could not check (and nothing found that fails)."""
        if self.of(ERROR):
            return 1
        return 2 if self.of(UNCHECKED) else 0

    @property
    def verdict(self) -> str:
        errors, warnings, unchecked, notes = (len(self.of(s)) for s in (ERROR, WARNING, UNCHECKED, NOTE))
        counts = f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
        if notes:
            counts += f", {_plural(notes, 'note')}"
        if unchecked:
            counts += f", {unchecked:,} not checked"
        state = {0: "will run", 1: "will fail", 2: "could not check everything"}[self.exit_code]
        data = "; ".join(f"{c.name}: {c.records:,} {'images' if c.kind != 'model' else 'model'}"
                         for c in self.channels if c.kind != "model")
        return f"preflight: {state} ({counts}){'; ' + data if data else ''}"

    def sorted_findings(self) -> list[Finding]:
        order = {ERROR: 0, UNCHECKED: 1, WARNING: 2, NOTE: 3}
        return sorted(self.findings, key=lambda f: (order.get(f.severity, 3), f.channel or "", f.path or "",
                                                    f.line or 0, f.offset or 0))

    def to_dict(self) -> dict:
        return {
            "verdict": {0: "will run", 1: "will fail", 2: "could not check"}[self.exit_code],
            "exit_code": self.exit_code,
            "source": self.source,
            "errors": len(self.of(ERROR)),
            "warnings": len(self.of(WARNING)),
            "unchecked": len(self.of(UNCHECKED)),
            "notes": len(self.of(NOTE)),
            "channels": [asdict(c) for c in self.channels],
            "findings": [f.to_dict() for f in self.sorted_findings()],
        }


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"
