"""A one-file HTML report of a data set (one or more splits), its problems, duplicates and odd
images, and optionally a model's evaluation and a training run's curves (the ``report`` extra:
matplotlib, imagehash)."""
from .build import ReportOptions, ReportResult, Split, write_report

__all__ = ["ReportOptions", "ReportResult", "Split", "write_report"]
