"""The issue's "done": a bundle downloaded from the running service (gunicorn + a celery
worker on the real Redis) verifies with the standalone verifier in another folder, with
no data folder and with the key fetched from the service's stable URL pinned."""
from __future__ import annotations

import os
import subprocess

import pytest
import requests

from tests.live_service import BIN, live_service


@pytest.fixture(scope="module")
def service(tmp_path_factory, redis_url, fixture_site):
    with live_service(tmp_path_factory.mktemp("evidence-e2e") / "data", redis_url, fixture_site) as svc:
        yield svc


def test_a_bundle_from_the_live_service_verifies_elsewhere(service, fixture_site, tmp_path):
    response = service.submit(url=fixture_site.url("/article"), note="evidence end to end")
    assert response.status_code == 202, response.text
    [capture_id] = response.json()["ids"]
    assert service.wait(capture_id)["state"] == "stored"

    verified = requests.get(f"{service.base}/api/v1/captures/{capture_id}/verify", timeout=60).json()
    assert verified["ok"], verified
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    bundle = requests.get(f"{service.base}/api/v1/captures/{capture_id}/bundle", timeout=60)
    assert bundle.status_code == 200, bundle.text[:500]
    (elsewhere / "capture.wacz").write_bytes(bundle.content)
    key = requests.get(f"{service.base}/api/v1/log/public-key", timeout=10)
    (elsewhere / "archive.pem").write_bytes(key.content)

    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(elsewhere)}
    result = subprocess.run([BIN / "archiver-verify", "capture.wacz", "--public-key", "archive.pem"],
                            capture_output=True, text=True, timeout=120, cwd=elsewhere, env=env)
    assert result.returncode == 0 and "VERIFIED" in result.stdout, result.stdout + result.stderr
    validated = subprocess.run([BIN / "wacz", "validate", "-f", "capture.wacz"], capture_output=True,
                               text=True, timeout=120, cwd=elsewhere, env=env)
    assert validated.returncode == 0, validated.stdout + validated.stderr

    head = requests.get(f"{service.base}/api/v1/log/head", timeout=10).json()
    assert head["size"] >= 5         # submitted, fetched, text_extracted, stored, exported
