"""A local S3-compatible server for the tests: moto's server mode, started by the tests.

The server runs in a thread of the test process and listens on loopback; a
test's processes (and a Ray cluster's nodes) reach it through the standard
``AWS_*`` variables (:func:`environment`), never through the catalog.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

#: Why a test that needs the server does not run.
MISSING = "needs moto's server mode: pip install 'moto[server]' (the dev extra has it)"


@contextmanager
def s3_server() -> Iterator[str]:
    """Start moto's S3 server on a free loopback port; yield its endpoint URL."""
    server_module = pytest.importorskip("moto.server", reason=MISSING)
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def environment(endpoint: str) -> dict[str, str]:
    """What a process needs to reach the server: moto accepts any key pair."""
    return {
        "AWS_ACCESS_KEY_ID": "sandbox-test-key",
        "AWS_SECRET_ACCESS_KEY": "sandbox-test-secret",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }


def new_bucket(endpoint: str) -> str:
    """Create a bucket of a fresh name on the server; its name."""
    from pyarrow import fs

    env = environment(endpoint)
    s3 = fs.S3FileSystem(
        access_key=env["AWS_ACCESS_KEY_ID"],
        secret_key=env["AWS_SECRET_ACCESS_KEY"],
        region=env["AWS_REGION"],
        endpoint_override=endpoint.removeprefix("http://"),
        scheme="http",
        allow_bucket_creation=True,
    )
    name = f"sandbox-{uuid.uuid4().hex[:12]}"
    s3.create_dir(name)
    return name
