"""The key that signs session cookies: ARCHIVER_SECRET_KEY, else one made once and kept in
the data folder (mode 0600), so every web process of one archive shares it."""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def session_secret(configured: str, data_dir: Path) -> str:
    if configured:
        return configured
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = data_dir / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(48) + "\n")
    try:
        os.link(tmp, path)              # atomic: fails when another process made it first
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()
