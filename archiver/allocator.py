"""The memory allocator of the capture worker: mimalloc where it is installed.

A capture allocates and frees a few MB of small blocks a page (libxml2's tree of the page,
the Python objects over it, the WARC record buffers): libc's malloc and memcpy were 13%
of a capture's instructions (docs/deploy.md, Throughput). mimalloc, from the cmeel-mimalloc wheel
that `make install` installs, does the same work in 6 to 12% less CPU a page. An allocator
can only be chosen when a process starts, so `archiver worker` and `archiver run` start
the Celery worker with it in LD_PRELOAD (ARCHIVER_WORKER_ALLOCATOR: mimalloc, system, or
the path of another allocator's shared library).
"""
from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path
from typing import Mapping

SYSTEM = "system"
MIMALLOC = "mimalloc"
_MIMALLOC_WHEEL = "cmeel-mimalloc"
# names the library with_allocator() preloaded, so that the worker can keep it to itself
_PRELOADED = "ARCHIVER_PRELOADED_ALLOCATOR"
# mimalloc keeps freed memory for a second before it gives it back to the system (its
# purge delay), so the next page reuses it without faulting it in again: much of its gain
# over glibc (at a 10 ms delay a worker faulted in 8 times as many pages and lost most of
# it). But a worker fed decompression bombs and oversized bodies then peaked at 103 to 143
# MiB above its resting size, past the 100 MiB tests/test_limits.py allows (glibc: 35):
# the big buffers of one such page, freed and allocated again at other sizes, piled up.
# Blocks over 4 MiB (no ordinary page has one: bodies are read in 1 MiB pieces) come from
# the system and go back to it at once, as glibc's do: 68 MiB.
MIMALLOC_SETTINGS = {"MIMALLOC_ARENA_MAX_OBJECT_SIZE": "4096"}     # KiB


def mimalloc_library() -> Path | None:
    """The shared library of the installed cmeel-mimalloc wheel, or None without it."""
    try:
        files = importlib.metadata.files(_MIMALLOC_WHEEL) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in files:
        # the versioned name the linker records (libmimalloc.so.3), not the dev symlink
        if file.name.startswith("libmimalloc.so.") and file.name.count(".") == 2:
            path = Path(file.locate())
            if path.is_file():
                return path
    return None


def library_for(choice: str) -> Path | None:
    """The library to preload for an ARCHIVER_WORKER_ALLOCATOR value (checked by Settings):
    None for the system allocator, and for mimalloc where its wheel is not installed."""
    if choice == SYSTEM:
        return None
    if choice == MIMALLOC:
        return mimalloc_library()
    return Path(choice)


def describe(choice: str) -> str:
    """What a worker started now would use, for its log."""
    library = library_for(choice)
    if library is not None:
        return f"memory allocator: {library}"
    if choice == MIMALLOC:
        return (f"memory allocator: the system's (the {_MIMALLOC_WHEEL} wheel is not installed; "
                "`make install` installs it)")
    return "memory allocator: the system's"


def with_allocator(env: Mapping[str, str], choice: str) -> dict[str, str]:
    """`env` for a process started with the chosen allocator preloaded (before any library
    preloaded already, which keeps its place after it); mimalloc with MIMALLOC_SETTINGS
    where the environment does not set them."""
    env = dict(env)
    library = library_for(choice)
    if library is not None:
        preloaded = env.get("LD_PRELOAD", "").strip()
        env["LD_PRELOAD"] = f"{library} {preloaded}" if preloaded else str(library)
        env[_PRELOADED] = str(library)
        if choice == MIMALLOC:
            for name, value in MIMALLOC_SETTINGS.items():
                env.setdefault(name, value)              # unless the environment sets it
    return env


def keep_to_this_process(environ=None) -> None:
    """Take the allocator with_allocator() added out of LD_PRELOAD again, once this process
    runs on it: the programs a worker starts (Playwright's driver, Chromium, which has an
    allocator of its own) start with the environment they would have had without it."""
    environ = os.environ if environ is None else environ
    library = environ.pop(_PRELOADED, None)
    if not library:
        return
    rest = [item for item in environ.get("LD_PRELOAD", "").split() if item != library]
    if rest:
        environ["LD_PRELOAD"] = " ".join(rest)
    else:
        environ.pop("LD_PRELOAD", None)
