"""The requests AWS's image-classification notebooks send, written by the real SageMaker Python SDK v2.

The estimator and channel code is shaped like the notebooks (aws/amazon-sagemaker-examples,
``introduction_to_amazon_algorithms/imageclassification_*`` and the Ground Truth image-classification
demo, last present at 7e07bb432): generic ``Estimator`` with the image-classification image,
``TrainingInput`` channels, ``set_hyperparameters``, ``HyperparameterTuner``. Only the scale differs:
tiny data, one epoch, ``image_shape=3,32,32``, ResNet-18.

Nothing is sent: a botocore ``before-call`` hook on the SDK's boto3 session records the
CreateTrainingJob / CreateHyperParameterTuningJob body and stops every call (the SDK's STS lookup
included) by raising; the SDK's telemetry ping, a plain HTTPS GET outside botocore, is switched off.
Credentials and region are fake.
"""
from __future__ import annotations

import json
import logging

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
#: the hyperparameters every notebook job here shares, at test scale
SMALL = {"image_shape": "3,32,32", "num_layers": 18, "epochs": 1, "mini_batch_size": 4}
#: AWS's tuning notebooks' ranges (the lst-format and HPO notebooks)
TUNED = {"beta_1": (1e-6, 0.999), "beta_2": (1e-6, 0.999), "eps": (1e-8, 1.0), "gamma": (1e-8, 0.999),
         "learning_rate": (1e-6, 0.5), "momentum": (0.0, 0.999), "weight_decay": (0.0, 0.999)}


class _Stopped(Exception):
    """Raised by the hook: the call never leaves the process."""


class Recorder:
    """A SageMaker SDK session whose API calls are recorded and stopped."""

    def __init__(self):
        import boto3
        import sagemaker
        from sagemaker.telemetry import telemetry_logging

        telemetry_logging._send_telemetry_request = lambda *args, **kwargs: None  # no ping to AWS
        logging.getLogger("sagemaker").setLevel(logging.CRITICAL)  # it logs every stopped call as an error
        boto = boto3.session.Session(aws_access_key_id="fake", aws_secret_access_key="fake", region_name=REGION)
        boto.events.register("before-call", self._stop)  # every client of this session: sagemaker, sts
        self.session = sagemaker.Session(boto_session=boto, default_bucket="icformat-not-used")
        self.image = sagemaker.image_uris.retrieve("image-classification", REGION)
        self.calls: list[tuple[str, dict]] = []

    def _stop(self, params, model, **_):
        body = params.get("body") or b"{}"
        self.calls.append((model.name, json.loads(body)))
        raise _Stopped(model.name)

    def record(self, start, operation: str) -> dict:
        """The body of the ``operation`` request that ``start()`` sends."""
        self.calls.clear()
        try:
            start()
        except _Stopped:
            pass
        bodies = [body for name, body in self.calls if name == operation]
        assert len(bodies) == 1, [name for name, _ in self.calls]
        return bodies[0]

    def estimator(self, output: str, *, input_mode: str = "File", instance_count: int = 1, **kwargs):
        from sagemaker.estimator import Estimator

        return Estimator(self.image, ROLE, instance_count=instance_count, instance_type="ml.p2.xlarge", volume_size=50,
                         max_run=360000, input_mode=input_mode, output_path=output, sagemaker_session=self.session,
                         **kwargs)

    def training_job(self, estimator, inputs: dict) -> dict:
        return self.record(lambda: estimator.fit(inputs=inputs, logs=False, wait=False), "CreateTrainingJob")

    def tuning_job(self, tuner, inputs: dict) -> dict:
        return self.record(lambda: tuner.fit(inputs=inputs, job_name="ic-tuning", wait=False),
                           "CreateHyperParameterTuningJob")


def recordio_inputs(uris: dict, *, distribution: str = "FullyReplicated") -> dict:
    """The full-training / transfer-learning notebooks' channels."""
    from sagemaker.inputs import TrainingInput

    return {name: TrainingInput(uri, distribution=distribution, content_type="application/x-recordio",
                                s3_data_type="S3Prefix")
            for name, uri in uris.items()}


def lst_inputs(uris: dict, content_type: str) -> dict:
    """The lst-format notebook's four channels (``application/jpeg`` there, on purpose)."""
    from sagemaker.inputs import TrainingInput

    return {name: TrainingInput(uri, distribution="FullyReplicated", content_type=content_type, s3_data_type="S3Prefix")
            for name, uri in uris.items()}


def manifest_inputs(uris: dict, attribute_names: list[str], content_type: str = "application/x-recordio",
                    record_wrapping: str | None = "RecordIO") -> dict:
    """The Ground Truth demo's Pipe-mode augmented-manifest channels."""
    from sagemaker.inputs import TrainingInput

    return {name: TrainingInput(uri, distribution="FullyReplicated", content_type=content_type,
                                s3_data_type="AugmentedManifestFile", attribute_names=attribute_names,
                                record_wrapping=record_wrapping, input_mode="Pipe")
            for name, uri in uris.items()}


def tuner(estimator, *, mini_batch_size=(8, 64), **ranges):
    """The lst-format notebook's HyperparameterTuner (objective validation:accuracy, Maximize)."""
    from sagemaker.tuner import CategoricalParameter, ContinuousParameter, HyperparameterTuner, IntegerParameter

    hyperparameter_ranges = {name: ContinuousParameter(low, high, scaling_type="Auto")
                             for name, (low, high) in {**TUNED, **ranges}.items()}
    hyperparameter_ranges["mini_batch_size"] = IntegerParameter(*mini_batch_size, scaling_type="Auto")
    hyperparameter_ranges["optimizer"] = CategoricalParameter(["sgd", "adam", "rmsprop", "nag"])
    return HyperparameterTuner(estimator, "validation:accuracy", hyperparameter_ranges, max_jobs=6,
                               max_parallel_jobs=2, objective_type="Maximize")
