"""A real S3-compatible server on 127.0.0.1 for the tests: moto's standalone server, run as
its own process (`moto_server -H 127.0.0.1 -p PORT`), one per test session and process.

    s3_server.endpoint        http://127.0.0.1:PORT
    s3_server.env             AWS_* variables a client (ours, boto3 in pywb) needs for it
    s3_server.new_bucket()    a fresh, empty bucket name
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.replay_server import free_port

BIN = Path(sys.executable).parent
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "archiver-test", "AWS_SECRET_ACCESS_KEY": "archiver-test-secret",
               "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass
class S3Server:
    endpoint: str
    process: subprocess.Popen
    env: dict[str, str] = field(default_factory=lambda: dict(CREDENTIALS))

    def client(self):
        import boto3
        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                            region_name=CREDENTIALS["AWS_DEFAULT_REGION"])

    def new_bucket(self) -> str:
        name = f"archiver-test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def object_keys(self, bucket: str) -> list[str]:
        answer = self.client().list_objects_v2(Bucket=bucket)
        return sorted(item["Key"] for item in answer.get("Contents", []))


def start_s3_server(log_path: Path) -> S3Server:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with open(log_path, "wb") as log:
        process = subprocess.Popen([BIN / "moto_server", "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited {process.returncode}:\n{log_path.read_text()}")
        try:
            requests.get(endpoint + "/", timeout=2)
            return S3Server(endpoint=endpoint, process=process)
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"moto_server did not answer at {endpoint}:\n{log_path.read_text()}")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> S3Server:
    server = start_s3_server(tmp_path_factory.mktemp("moto") / "moto.log")
    yield server
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
