"""``preflight(job)``: will this SageMaker image-classification job run? Every check, one report.

Order: hyperparameters (the trainer's validation), the job description, each channel's listing and
data (RecordIO, images + .lst, augmented manifest), the model channel, then the data against the
hyperparameters and across channels.
"""
from __future__ import annotations

import os
from typing import Callable

from ..io.paths import is_fifo, is_uri, local_path
from ..errors import IcformatError, WrongFileKind
from ..manifest.labels import label_format_from_content_type
from .checks import check_across, check_channel_data
from .config import DATA_CHANNELS, check_job_config
from .data import ChannelData
from .findings import BAD_MAGIC, BATCH_TOO_BIG, EMPTY_REC, ERROR, INVALID_LST, NOTE, UNCHECKED, WARNING, ChannelSummary, Finding, Report
from .hyperparameters import Settings, check_hyperparameters
from .job import IMAGES, MANIFEST, MANIFEST_FILE, PIPE, Channel, Job, channel_format
from ..errors import ChannelUnreachable
from .listing import Entry, is_image, list_channel, stray_objects
from .model import check_model_channel

Progress = Callable[[int], None]


def preflight(job: Job, *, check_images: bool = False, workers: int | None = None,
              progress: Progress | None = None) -> Report:
    """Check ``job`` and return the :class:`Report` (``report.exit_code``: 0 will run, 1 will fail,
    2 could not check). ``check_images`` decodes every image (``workers`` processes or threads);
    ``progress(n)`` is called as records, lines and images are checked."""
    report = Report(source=job.source)
    settings, findings = check_hyperparameters(job)
    report.extend(findings)
    report.extend(check_job_config(job, settings))
    report.extend(_local_notes(job, settings))
    listings = _list_all(job, report)
    scanned: dict[str, ChannelData] = {}
    for name in DATA_CHANNELS:
        channel = job.channels.get(name)
        if channel is None or name not in listings:
            continue
        if channel_format(job, channel) == IMAGES and f"{name}_lst" in job.channels and f"{name}_lst" not in listings:
            continue  # its .lst channel is unreachable: reported already
        data = _scan(job, channel, listings, settings, check_images, workers, progress, report)
        if data is not None:
            scanned[name] = data
            report.extend(data.findings)
            report.extend(check_channel_data(data, settings))
            report.channels.append(ChannelSummary(name, channel.uri, data.kind, data.count,
                                                  len(data.class_counts()), len(data.files)))
    report.extend(check_across(scanned.get("train"), scanned.get("validation")))
    report.extend(_tuned_batches(job, scanned.get("train")))
    if "model" in job.channels and "model" in listings:
        report.extend(_model(job.channels["model"], listings["model"], settings))
        report.channels.append(ChannelSummary("model", job.channels["model"].uri, "model"))
    return report


def _tuned_batches(job: Job, train: ChannelData | None) -> list[Finding]:
    """A tuning job's trials with a mini_batch_size above the training image count fail."""
    if train is None or not train.count:
        return []
    findings = []
    for tuned in (t for t in job.tuning if t.name == "mini_batch_size"):
        sizes = [int(float(v)) for v in tuned.values if v.replace(".", "", 1).isdigit()]
        if sizes and max(sizes) > train.count:
            findings.append(Finding(ERROR, "mini-batch-size", f"tuning range mini_batch_size reaches {max(sizes)}, above the "
                                    f"{train.count:,} training images: those trials fail", f"set the range's MaxValue "
                                    f"<= {train.count}, or add images", BATCH_TOO_BIG, "train",
                                    train.files[0] if train.files else None))
    return findings


def _local_notes(job: Job, settings: Settings) -> list[Finding]:
    """What matters only for training locally with ``icformat train``."""
    hp = settings.hp
    if hp is None or not hp.use_pretrained_model or "model" in job.channels:
        return []
    return [Finding(NOTE, "pretrained", f"use_pretrained_model=1: SageMaker starts from its ImageNet-pretrained "
                    f"ResNet-{hp.num_layers}; icformat train downloads nothing, so training this job locally needs "
                    "--pretrained", f"give icformat train --pretrained PREFIX_OR_TGZ: an MXNet checkpoint prefix, a "
                    f".params file or a model.tar.gz of a ResNet-{hp.num_layers}", "", path=job.source_of("use_pretrained_model"))]


def _list_all(job: Job, report: Report) -> dict[str, list[Entry]]:
    listings = {}
    for name, channel in job.channels.items():
        if channel.data_type == MANIFEST_FILE:
            report.add(Finding(UNCHECKED, "channel", "ManifestFile channels are not read by preflight", "", "", name, channel.uri))
            continue
        if is_fifo(channel.uri):
            report.add(Finding(UNCHECKED, "channel", "a Pipe-mode FIFO: not read (reading it would take the data "
                               "from the job)", "run preflight on the channel's S3 data before launch", "", name, channel.uri))
            continue
        try:
            entries = list_channel(channel.uri)
        except ChannelUnreachable as exc:
            report.add(Finding(UNCHECKED, "channel", exc.reason, "make the channel readable from here and run again", "",
                               name, channel.uri))
            continue
        if not entries and not is_uri(channel.uri) and not os.path.exists(local_path(channel.uri)):
            report.add(Finding(ERROR, "channel", "no such file or folder", "give the channel's path or s3:// URI",
                               "the job failing: no data for this channel", name, channel.uri))
            continue
        listings[name] = entries
        strays = stray_objects(entries)
        if strays:
            pipe = job.mode_of(channel) == PIPE and name in DATA_CHANNELS
            report.add(Finding(ERROR if pipe else WARNING, "s3-prefix", f"the prefix {channel.uri} also matches "
                               f"{', '.join(strays[:5])}: SageMaker puts those objects in the {name} channel too",
                               f"end the S3 URI with a slash: {channel.uri}/", BAD_MAGIC if pipe else "", name, channel.uri))
    return listings


_MANIFEST_UNREADABLE = "the job failing to read the augmented manifest"


def _scan(job: Job, channel: Channel, listings: dict, settings: Settings, check_images: bool, workers, progress,
          report: Report) -> ChannelData | None:
    name, entries = channel.name, [e for e in listings[channel.name] if not e.stray]
    try:
        kind = channel_format(job, channel)
        if kind == MANIFEST:
            return _scan_manifest(channel, entries, settings, check_images, workers, progress, report)
        if kind == IMAGES:
            return _scan_images(channel, entries, listings, settings, check_images, workers, progress, report)
        return _scan_recordio(job, channel, entries, check_images, workers, progress, report)
    except ChannelUnreachable as exc:
        report.add(Finding(UNCHECKED, "channel", exc.reason, "", "", name, exc.uri))
    except WrongFileKind as exc:  # SageMaker reads it as what the channel says it is, and fails
        fails = (_MANIFEST_UNREADABLE if kind == MANIFEST else INVALID_LST.format(channel=name) if kind == IMAGES
                 else BAD_MAGIC)
        report.add(Finding(ERROR, "file-kind", exc.reason, "give the channel the file it needs", fails, name, exc.path))
    except (OSError, IcformatError) as exc:
        report.add(Finding(UNCHECKED, "channel", f"cannot read the channel: {exc}", "", "", name, channel.uri))
    except Exception as exc:  # boto3/smart_open raise transport-specific errors; elsewhere a bug
        if not is_uri(channel.uri):
            raise
        from ..io.objects import describe_error

        report.add(Finding(UNCHECKED, "channel", f"cannot read the channel: {describe_error(exc)}", "", "", name, channel.uri))
    return None


def _scan_recordio(job: Job, channel: Channel, entries: list[Entry], check_images, workers, progress, report) -> ChannelData:
    from .scan_rec import scan_rec_channel

    name = channel.name
    recs = [e for e in entries if e.relative.lower().endswith(".rec")]
    others = [e for e in entries if not e.relative.lower().endswith(".rec")]
    if job.mode_of(channel) == PIPE and recs and others:
        report.add(Finding(ERROR, "pipe-objects", f"{len(others):,} object(s) that are not .rec files are under the channel "
                           f"({others[0].relative}...): Pipe mode streams every object", "keep only the .rec file(s) "
                           "under the channel's prefix", BAD_MAGIC, name, others[0].uri))
    if not recs and any(is_image(e) for e in entries):
        report.add(Finding(ERROR, "content-type", f"the channel holds image files, not a .rec, but its content type is "
                           f"{channel.content_type}", "pack the images into a .rec (icformat im2rec), or use "
                           f"application/x-image with a {name}_lst channel", EMPTY_REC.format(channel=name), name, channel.uri))
    elif len(recs) > 1 and job.mode_of(channel) != PIPE:
        report.add(Finding(WARNING, "rec-files", f"{len(recs):,} .rec files in the channel; the documentation asks for "
                           "one per channel", "merge them into one .rec", "", name, channel.uri))
    return scan_rec_channel(name, [e.uri for e in recs], check_images=check_images, workers=workers, progress=progress)


def _scan_images(channel: Channel, entries, listings, settings: Settings, check_images, workers, progress, report):
    from .scan_lst import scan_lst_channel

    name = channel.name
    lst_entries = [e for e in listings.get(f"{name}_lst", []) if not e.stray and e.relative.lower().endswith(".lst")]
    if f"{name}_lst" not in listings:
        return None  # reported by the job checks
    if not lst_entries:
        report.add(Finding(ERROR, "lst", f"no .lst file in the {name}_lst channel", f"put the .lst of the {name} images "
                           "there (icformat lst make)", INVALID_LST.format(channel=name), f"{name}_lst",
                           channel.uri))
        return None
    if len(lst_entries) > 1:
        report.add(Finding(WARNING, "lst", f"{len(lst_entries):,} .lst files in the {name}_lst channel; checking "
                           f"{lst_entries[0].relative}", "keep one .lst per channel", "", f"{name}_lst", lst_entries[0].uri))
    if not any(is_image(e) for e in entries) and any(e.relative.endswith(".rec") for e in entries):
        report.add(Finding(ERROR, "content-type", f"the channel holds a .rec but its content type is {channel.content_type}",
                           "set ContentType=application/x-recordio (and drop the _lst channels)",
                           INVALID_LST.format(channel=name), name, channel.uri))
    return scan_lst_channel(name, lst_entries[0].uri, channel.uri, entries, multi_label=settings.multi_label,
                            num_classes=settings.num_classes, check_images=check_images, workers=workers, progress=progress)


def _scan_manifest(channel: Channel, entries, settings: Settings, check_images, workers, progress, report):
    from .scan_manifest import scan_manifest_channel

    if not entries:
        report.add(Finding(ERROR, "empty-channel", f"no manifest at {channel.uri}", "point S3Uri at the manifest file",
                           "the job failing: no augmented manifest object", channel.name, channel.uri))
        return None
    exact = [e for e in entries if e.uri.rstrip("/") == channel.uri.rstrip("/")] or entries[:1]
    try:
        label_format = label_format_from_content_type(channel.content_type)
    except IcformatError as exc:
        report.add(Finding(ERROR, "content-type", str(exc), "use label-format=multi-hot or label-format=class-id",
                           "the job failing to read the labels", channel.name))
        return None
    return scan_manifest_channel(channel.name, exact[0].uri, channel.attribute_names, num_classes=settings.num_classes,
                                 label_format=label_format, check_images=check_images, workers=workers, progress=progress)


def _model(channel: Channel, entries: list[Entry], settings: Settings) -> list[Finding]:
    archives = [e for e in entries if not e.stray and e.relative.endswith((".tar.gz", ".tgz"))]
    if not archives:
        if entries and any(e.relative.endswith("-symbol.json") for e in entries):
            return check_model_channel(channel.uri, settings, channel.name)
        return [Finding(ERROR, "model", "no model.tar.gz in the model channel", "point the model channel at the "
                        "model.tar.gz of an earlier image-classification job", "the job failing to load the model",
                        channel.name, channel.uri)]
    return check_model_channel(archives[0].uri, settings, channel.name)
