"""Checks and their outcome: each one named, passed or failed, with a reason a person can read."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Check:
    name: str          # what was checked, e.g. "record digests"
    ok: bool
    detail: str        # why it passed or, above all, why not

    def to_json(self) -> dict:
        return {"check": self.name, "result": "pass" if self.ok else "fail", "detail": self.detail}


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def passed(self, name: str, detail: str) -> None:
        self.checks.append(Check(name, True, detail))

    def failed(self, name: str, detail: str) -> None:
        self.checks.append(Check(name, False, detail))

    def judge(self, name: str, problems: list[str], passed_detail: str) -> bool:
        """Failed with every problem found, or passed with `passed_detail`; returns which."""
        if problems:
            self.failed(name, "; ".join(problems))
            return False
        self.passed(name, passed_detail)
        return True

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def to_json(self) -> dict:
        return {"ok": self.ok, "checks": [c.to_json() for c in self.checks]}
