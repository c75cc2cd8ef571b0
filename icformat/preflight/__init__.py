"""``icformat preflight``: will a SageMaker image-classification training job run? Checked before
launch, from the job's hyperparameters and channels (local or ``s3://``), in seconds."""
from .findings import ERROR, UNCHECKED, WARNING, ChannelSummary, Finding, Report
from .job import Channel, Job, job_from_channels, job_from_request, job_from_sagemaker_root, read_hyperparameters_file
from ..errors import JobError
from .run import preflight

__all__ = [
    "ERROR",
    "UNCHECKED",
    "WARNING",
    "Channel",
    "ChannelSummary",
    "Finding",
    "Job",
    "JobError",
    "Report",
    "job_from_channels",
    "job_from_request",
    "job_from_sagemaker_root",
    "preflight",
    "read_hyperparameters_file",
]
