"""pytest fixtures for a real S3-compatible server on 127.0.0.1 (moto in server mode), built on
``icformat.benchmarks.s3server`` (which the benchmarks use too).

Use from a test module::

    from tests.s3server import s3_server, s3_bucket  # noqa: F401  (pytest fixtures)
"""
from __future__ import annotations

import pytest

from icformat.benchmarks.s3server import aws_environment, make_bucket, start_server


@pytest.fixture(scope="session")
def s3_server():
    """The endpoint of the local S3 server, with the AWS environment pointed at it for the session."""
    import boto3  # noqa: F401  (the dev extra installs both: a missing one is an error, never a skip)
    import moto.server  # noqa: F401

    from icformat.io.s3 import reset_client

    endpoint = start_server()
    with pytest.MonkeyPatch.context() as mp:
        for key, value in aws_environment(endpoint).items():
            mp.setenv(key, value)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            mp.delenv(name, raising=False)
        reset_client()  # a client made before (without these credentials) must not be reused
        yield endpoint
    reset_client()


@pytest.fixture
def s3_bucket(s3_server) -> str:
    """A fresh, empty bucket on the local server."""
    from icformat.io.s3 import reset_client

    reset_client()  # an earlier test may have left a client made for another AWS environment
    return make_bucket()
