"""The file thread (archiver/background.py) and the writeback hint of the WARC writer."""
from __future__ import annotations

import os
import sys
import threading

import pytest

from archiver.background import in_background
from archiver.warc import writer


def test_work_runs_in_another_thread_in_order_and_its_error_reaches_the_caller():
    seen: list[tuple[int, str]] = []
    first = in_background(lambda: seen.append((threading.get_ident(), "first")))
    second = in_background(lambda: seen.append((threading.get_ident(), "second")))
    second.result(), first.result()
    assert [name for _, name in seen] == ["first", "second"]
    assert {ident for ident, _ in seen} != {threading.get_ident()}

    def fails():
        raise OSError(28, "No space left on device")
    with pytest.raises(OSError, match="No space"):
        in_background(fails).result()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_process_gets_a_file_thread_of_its_own():
    in_background(lambda: None).result()          # the parent's thread exists
    pid = os.fork()
    if pid == 0:                                  # the child: the parent's thread is not here
        try:
            code = 0 if in_background(lambda: os.getpid()).result(timeout=10) == os.getpid() else 1
        except BaseException:                     # noqa: BLE001
            code = 2
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sync_file_range is Linux's")
def test_the_writeback_hint_is_found_on_linux_and_leaves_the_bytes_as_written(tmp_path):
    assert writer._sync_file_range is not None
    path = tmp_path / "records"
    data = os.urandom(300_000)
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        writer._start_writeback(handle.fileno(), 0, len(data))
        writer._start_writeback(handle.fileno(), 0, 0)          # nothing to start: no call
    assert path.read_bytes() == data
