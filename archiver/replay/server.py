"""Starting pywb for replay: its config generated into the data folder, its own virtualenv."""
from __future__ import annotations

import json
import os
from pathlib import Path

from archiver.config import Settings
from archiver.replay.paths import COLLECTION, ReplayPaths

REPO = Path(__file__).resolve().parents[2]
PYWB_VENV = REPO / ".venv-pywb"
PYWB_APP = Path(__file__).resolve().parent / "pywb_app.py"


class PywbMissing(RuntimeError):
    """pywb's virtualenv is not there; the message says how to make it."""


def pywb_python(venv: Path | None = None) -> Path:
    venv = venv or PYWB_VENV
    python = venv / "bin" / "python"
    if not (python.is_file() and os.access(python, os.X_OK) and (venv / "bin" / "wayback").is_file()):
        raise PywbMissing(f"pywb is not installed in {venv}: run `make pywb`")
    return python


def pywb_config(paths: ReplayPaths) -> dict:
    """pywb's config: unframed replay, Memento on, TimeGate redirects to the exact capture."""
    return {
        "framed_replay": False,          # /web/<ts>/<url> is the page itself (it sits in our iframe)
        "enable_memento": True,
        "redirect_to_exact": True,       # TimeGate and inexact timestamps redirect (307; we make it 302)
        "collections": {
            COLLECTION: {
                "index_paths": f"{paths.indexes}/",
                # tried in order: a file while `.open`, the same just renamed, then sealed
                "archive_paths": [str(paths.warc_paths), f"{paths.open_dir}/", paths.sealed_prefix],
            },
        },
    }


def prepare(settings: Settings) -> ReplayPaths:
    """Make the replay folder and write pywb's config.yaml (JSON, which YAML reads)."""
    paths = ReplayPaths.of(settings).ensure()
    paths.open_dir.mkdir(parents=True, exist_ok=True)
    if paths.sealed_dir is not None:
        paths.sealed_dir.mkdir(parents=True, exist_ok=True)
    text = "# written by `archiver replay` at every start; edits are lost\n"
    text += json.dumps(pywb_config(paths), indent=2) + "\n"
    tmp = paths.config.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, paths.config)
    return paths


def replay_argv(settings: Settings, venv: Path | None = None) -> list[str]:
    paths = prepare(settings)
    return [str(pywb_python(venv)), str(PYWB_APP), "--root", str(paths.root),
            "--host", settings.replay_host, "--port", str(settings.replay_port),
            "--collection", COLLECTION, "--app-url", settings.public_url]


def replay_env(environ: dict[str, str] | None = None, settings: Settings | None = None) -> dict[str, str]:
    """Our environment without what points Python at the app's virtualenv. With S3 storage
    on an endpoint of its own, pywb's boto3 is pointed at it (AWS_ENDPOINT_URL_S3); the
    credentials are the AWS_* variables already in the environment."""
    environ = dict(os.environ if environ is None else environ)
    env = {k: v for k, v in environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    if settings is not None and settings.s3_endpoint_url:
        env["AWS_ENDPOINT_URL_S3"] = settings.s3_endpoint_url
    return env
