"""A full disk: the capture that does not fit fails clearly, and every WARC record written
before it stays intact and readable (digests checked), in the file and in the catalogue.

The open-WARC folder is a tiny tmpfs mounted for the test (needs root, as in CI).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.db import migrate
from tests.conftest import capture_now as capture, make_settings
from workers.context import build_context

TMPFS_BYTES = 256 * 1024


@pytest.fixture
def small_disk(tmp_path):
    folder = tmp_path / "data" / "open"
    folder.mkdir(parents=True)
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(folder)],
                           capture_output=True, text=True)
    if mount.returncode != 0:
        message = f"cannot mount a small tmpfs for the full-disk test: {mount.stderr.strip()}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: this test must run; run CI as root)", pytrace=False)
        pytest.skip(message)
    try:
        yield tmp_path / "data"
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_fails_the_capture_clearly_and_keeps_earlier_records(small_disk, fixture_site):
    settings = make_settings(small_disk, ARCHIVER_ALLOW_PRIVATE=fixture_site.allow,
                             ARCHIVER_MAX_ATTEMPTS=1)
    migrate(settings.database_url)
    fixture_site.set_page("/noise.bin", os.urandom(2 * TMPFS_BYTES), content_type="application/octet-stream")
    ctx = build_context(settings)
    try:
        earlier = [capture(ctx, fixture_site.url(f"/plain.txt?n={i}")) for i in range(3)]
        assert [c.state for c in earlier] == ["stored"] * 3
        too_big = capture(ctx, fixture_site.url("/noise.bin"))
        assert too_big.state == "failed", (too_big.state, too_big.error)
        assert "space" in too_big.error.lower() and too_big.error_code == "storage", too_big.error
        assert not too_big.records
        after = capture(ctx, fixture_site.url("/plain.txt?n=after"))
        assert after.state in ("stored", "failed")      # the disk may still be too full
    finally:
        sealed = ctx.writer.close()

    # every record of the earlier captures is where the catalogue says, digests intact
    warc_file = Path(settings.warc_dir) / sealed.key
    with open(warc_file, "rb") as handle:
        for row in earlier:
            for loc in row.records:
                handle.seek(loc.offset)
                [record] = list(ArchiveIterator(handle, check_digests="raise"))[:1] or [None]
                assert record is not None and record.rec_headers["WARC-Record-ID"] == loc.record_id
                record.content_stream().read()
    check = subprocess.run([Path(sys.executable).with_name("warcio"), "check", str(warc_file)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
