"""Taking URLs from people: validate every one, store the captures, then queue them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Sequence

from sqlalchemy.orm import Session, sessionmaker

from archiver.browser.modes import PLAIN, InvalidMode, check_mode
from archiver.db import transaction
from archiver.ledger import log as ledger
from archiver.models import FAILED, QUEUED, SOURCES, Capture
from archiver.new_captures import insert_captures
from archiver.sites import site_of
from archiver.urls import InvalidURL, normalize_submitted_url

MAX_NOTE_CHARS = 10_000


class SubmissionError(ValueError):
    """The submission as a whole is refused; nothing was stored."""

    def __init__(self, message: str, field: str | None = None, index: int | None = None):
        super().__init__(message)
        self.field = field
        self.index = index


@dataclass(slots=True)
class SubmittedCapture:
    """A capture as its submission stored it, attached to no session: what the callers
    read. `state` is queued, or failed when the broker refused its task."""
    id: int
    requested_url: str
    state: str = QUEUED
    error_code: str | None = None


@dataclass(frozen=True)
class Submitter:
    source: str                      # form, api, schedule, cli
    submitted_by: str | None = None  # user or token name
    remote_addr: str | None = None


def validate_urls(raw_urls: Sequence[str], max_urls: int) -> list[str]:
    if not raw_urls:
        raise SubmissionError("no URL given: send at least one http or https URL", field="urls")
    if len(raw_urls) > max_urls:
        raise SubmissionError(
            f"{len(raw_urls)} URLs in one submission; at most {max_urls} are taken at once: "
            "split the list", field="urls")
    urls = []
    for index, raw in enumerate(raw_urls):
        if not isinstance(raw, str):
            raise SubmissionError(f"URL number {index + 1} is not a string", field="urls", index=index)
        try:
            urls.append(normalize_submitted_url(raw))
        except InvalidURL as exc:
            where = f"URL number {index + 1}" if len(raw_urls) > 1 else "the URL"
            raise SubmissionError(f"{where} is refused: {exc}", field="urls", index=index) from None
    return urls


def submit_captures(sessions: sessionmaker[Session], raw_urls: Sequence[str], note: str | None,
                    submitter: Submitter, enqueue: Callable[[int], None],
                    max_urls: int = 100, mode: str | None = None,
                    enqueue_batch: Callable[[list[int]], None] | None = None,
                    batch_size: int = 1) -> list[SubmittedCapture]:
    """Store one queued capture per URL, commit, and only then queue each one.

    Every URL is validated before anything is written, so a refused submission
    leaves no trace. With `enqueue_batch`, up to `batch_size` captures go in one task. A broker failure after the commit marks the captures that
    could not be queued as failed, with the reason, instead of losing them silently.
    """
    if submitter.source not in SOURCES:
        raise ValueError(f"unknown source {submitter.source!r}")
    if note is not None and not isinstance(note, str):
        raise SubmissionError("note must be a string", field="note")
    if note and len(note) > MAX_NOTE_CHARS:
        raise SubmissionError(f"note is longer than {MAX_NOTE_CHARS} characters", field="note")
    urls = validate_urls(raw_urls, max_urls)
    try:
        mode = check_mode(mode)
    except InvalidMode as exc:
        raise SubmissionError(str(exc), field="mode") from None
    with transaction(sessions) as session:
        captures = store_captures(session, urls, note, submitter, mode=mode)
    queue_captures(sessions, captures, enqueue, enqueue_batch, batch_size)
    return captures


def sites_of(urls: Sequence[str]) -> list[str | None]:
    """site_of each URL, worked out once per origin (a submission is often of one site):
    site_of reads the host, which a URL gives before its third "/", so URLs alike up to
    there have the same site."""
    known: dict[str, str | None] = {}
    sites = []
    for url in urls:
        origin = "/".join(url.split("/", 3)[:3])
        if origin not in known:
            known[origin] = site_of(url)
        sites.append(known[origin])
    return sites


def store_captures(session: Session, urls: Sequence[str], note: str | None, submitter: Submitter,
                   watch_id: int | None = None, now: datetime | None = None,
                   mode: str = PLAIN) -> list[SubmittedCapture]:
    """Add queued captures of already validated URLs to `session`; the caller commits.

    One INSERT for the rows (archiver/new_captures.py) and one for their `submitted`
    events, not the ORM: this is every submission's path (bench/load.py)."""
    now = now or datetime.now(timezone.utc)
    note = note or None
    shared = {"state": QUEUED, "source": submitter.source, "submitted_by": submitter.submitted_by,
              "remote_addr": submitter.remote_addr, "note": note, "watch_id": watch_id, "mode": mode,
              "queued_at": now, "attempts": 0}
    ids = insert_captures(session, [{**shared, "requested_url": url, "site": site}
                                    for url, site in zip(urls, sites_of(urls))])
    agent = {"kind": submitter.source, "user": submitter.submitted_by, "remote_addr": submitter.remote_addr}
    # in the same transaction: no capture without its event
    ledger.append_all_later(session, [
        ledger.NewEntry("submitted", agent, {"url": url, "note": note, "watch_id": watch_id},
                        capture_id=capture_id) for capture_id, url in zip(ids, urls)], now=now)
    return [SubmittedCapture(capture_id, url) for capture_id, url in zip(ids, urls)]


# A submission is spread over at least this many tasks when it can be, so that a few dozen
# URLs still reach several workers at once instead of waiting in one batch.
SPREAD_TASKS = 8


def batches(count: int, batch_size: int) -> list[range]:
    """Index ranges of `count` captures cut into tasks of at most `batch_size`, as even as
    can be, and no bigger than it takes to make SPREAD_TASKS tasks."""
    size = max(1, min(batch_size, count // SPREAD_TASKS))
    tasks = -(-count // size)
    return [range(count * n // tasks, count * (n + 1) // tasks) for n in range(tasks)]


def queue_captures(sessions: sessionmaker[Session], captures: Sequence[SubmittedCapture],
                   enqueue: Callable[[int], None],
                   enqueue_batch: Callable[[list[int]], None] | None = None,
                   batch_size: int = 1) -> None:
    """Queue committed captures: one task each, or with `enqueue_batch` several to a task
    (`batches`). Captures whose task the broker refuses are marked failed with the reason."""
    if enqueue_batch is None:
        batch_size = 1
    for part in batches(len(captures), batch_size):
        chosen = [captures[n] for n in part]
        try:
            if len(chosen) == 1:
                enqueue(chosen[0].id)
            else:
                enqueue_batch([capture.id for capture in chosen])
        except Exception as exc:  # broker down: say so on the captures, keep the rows
            for capture in chosen:
                mark_unqueued(sessions, capture.id, exc)
                capture.state, capture.error_code = FAILED, "broker"


def mark_unqueued(sessions: sessionmaker[Session], capture_id: int, exc: Exception) -> None:
    with transaction(sessions) as session:
        capture = session.get(Capture, capture_id)
        capture.state = FAILED
        capture.error_code = "broker"
        capture.error = (f"the capture was saved but could not be queued: {exc}. "
                         "Check that the broker (ARCHIVER_BROKER_URL) is reachable and submit again.")
        capture.finished_at = datetime.now(timezone.utc)
