"""A progress bar on a terminal (stderr), or a line now and then when it is not a terminal."""
from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30
REDRAW_EVERY = 0.1          # seconds
LOG_STEPS = 4               # not a terminal: a line at each quarter


def _amount(phase: str, value: int) -> str:
    if phase != "reading":
        return str(value)
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value} B"


class ProgressBar:
    """progress(phase, done, total) for archiver.importer.import_warc."""

    def __init__(self, label: str, stream: TextIO | None = None):
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._drawn = 0.0
        self._step: dict[str, int] = {}
        self._open = False

    def __call__(self, phase: str, done: int, total: int) -> None:
        fraction = min(done / total, 1.0) if total else 1.0
        what = "" if phase == "reading" else " captures"
        text = f"{self.label}: {phase} {_amount(phase, done)} of {_amount(phase, total)}{what} ({fraction:.0%})"
        if self.tty:
            now = time.monotonic()
            if now - self._drawn < REDRAW_EVERY and done < total:
                return
            self._drawn = now
            filled = int(WIDTH * fraction)
            self.stream.write(f"\r[{'#' * filled}{'.' * (WIDTH - filled)}] {text}\x1b[K")
            self._open = True
        else:
            step = int(fraction * LOG_STEPS)
            if self._step.get(phase) == step:
                return
            self._step[phase] = step
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False
