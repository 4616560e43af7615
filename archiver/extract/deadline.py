"""A cooperative time limit: long loops call check(), which raises once time is up."""
from __future__ import annotations

import time


class TimedOut(Exception):
    """The extraction ran past its deadline."""


class Deadline:
    def __init__(self, seconds: float, clock=time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds

    def check(self) -> None:
        if self._clock() > self._end:
            raise TimedOut(f"timed out after {self.seconds:g} s")


class NoDeadline(Deadline):
    def __init__(self):
        super().__init__(float("inf"))

    def check(self) -> None:
        return None
