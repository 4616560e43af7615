"""Captures run and stored together (archiver/storing.py, `run_captures`): each is stored
as it would be alone, one bad capture does not hold back the others, and a submission is
cut into tasks of several captures (archiver/submissions.py, `batches`)."""
from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import delete, select

from archiver.capture import release, run_captures, still_fetching
from archiver.fetch import fetch
from archiver.ledger.log import entries_of
from archiver.models import Capture
from archiver.replay.index import lookup
from archiver.search import SearchQuery, search_index_for
from archiver.submissions import SPREAD_TASKS, Submitter, batches, submit_captures
from tests.test_capture_pipeline import capture_row, warc_records


def submit(ctx, urls: list[str]) -> list[int]:
    return [c.id for c in submit_captures(ctx.sessions, urls, None, Submitter("cli", "tester"),
                                          lambda _id: None)]


def rows(ctx, ids: list[int]) -> list[Capture]:
    with ctx.sessions() as session:
        found = {c.id: c for c in session.scalars(select(Capture).where(Capture.id.in_(ids)))}
        session.expunge_all()
    return [found[i] for i in ids]


@pytest.mark.parametrize("count, batch_size, sizes", [
    (1, 8, [1]),
    (8, 8, [1] * 8),                      # spread first: eight tasks of one
    (16, 8, [2] * 8),
    (20, 8, [2] * 10),
    (9, 8, [1] * 9),
    (70, 8, [7, 8, 8, 8, 7, 8, 8, 8, 8]),
    (200, 8, [8] * 25),
    (100, 8, [7, 8, 8, 7, 8, 8, 7, 8, 8, 7, 8, 8, 8]),
    (30, 1, [1] * 30),
])
def test_a_submission_is_cut_into_even_tasks(count, batch_size, sizes):
    parts = batches(count, batch_size)
    assert [len(p) for p in parts] == sizes
    assert [n for p in parts for n in p] == list(range(count))      # each once, in order
    assert len(parts) >= min(count, SPREAD_TASKS)


def test_captures_stored_together_are_each_stored_in_full(database_url, make_ctx, fixture_site):
    ctx = make_ctx(database_url=database_url)
    urls = [fixture_site.url(f"/article?batch={n}") for n in range(5)]
    ids = submit(ctx, urls)
    outcomes = run_captures(ctx, ids, task_id="batch-task")
    assert [(o.capture_id, o.state, o.ran) for o in outcomes] == [(i, "stored", True) for i in ids]
    stored = rows(ctx, ids)
    assert {c.state for c in stored} == {"stored"} and {c.task_id for c in stored} == {"batch-task"}
    assert len({c.warc_file_id for c in stored}) == 1
    with ctx.sessions() as session:
        for capture in stored:
            # every record read back by offset, digests checked
            row = capture_row(ctx, capture.id)
            assert [r.rec_headers["WARC-Record-ID"] for r, _ in warc_records(ctx, row)] == \
                [loc.record_id for loc in row.records]
            # its evidence entries are consecutive: fetched, text_extracted, stored
            entries = entries_of(session, capture.id)[1:]         # after `submitted`
            assert [e.event for e in entries] == ["fetched", "text_extracted", "stored"]
            assert [e.position for e in entries] == list(range(entries[0].position, entries[0].position + 3))
        found = search_index_for(session).search(session, SearchQuery(text="fixture headline", per_page=50))
        assert set(ids) <= {hit.capture_id for hit in found.hits}
    # each is in the replay index, its response line naming its record
    lines = lookup(ctx.settings, "")
    for url, capture in zip(urls, stored):
        key = url.rsplit("?", 1)[1]
        assert any(key in line and '"status": "200"' in line for line in lines), (key, lines)


def test_records_are_durable_before_the_index_names_them_and_the_index_before_stored(
        ctx, fixture_site, monkeypatch):
    """The fsyncs of a batch run beside other work (archiver/background.py); the order that
    counts still holds: WARC fsynced, then the index file fsynced and renamed into place,
    then its folder fsynced, and only then the commit that says `stored`."""
    from sqlalchemy import event
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        real_fsync(fd)
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"), os.fstat(fd).st_size))

    def replace(src, dst):
        real_replace(src, dst)
        events.append(("rename", str(dst), 0))

    ids = submit(ctx, [fixture_site.url(f"/article?order={n}") for n in range(3)])

    def after_commit(_session):
        with ctx.sessions.kw["bind"].connect() as connection:
            states = set(connection.execute(select(Capture.state).where(Capture.id.in_(ids))).scalars())
        events.append(("commit", ",".join(sorted(states)), 0))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    event.listen(ctx.sessions, "after_commit", after_commit)
    try:
        outcomes = run_captures(ctx, ids, task_id="order-task")
    finally:
        event.remove(ctx.sessions, "after_commit", after_commit)
    assert {o.state for o in outcomes} == {"stored"}
    stored_at = events.index(("commit", "stored", 0))
    [warc_path] = {path for kind, path, _ in events if kind == "fsync" and path.endswith(".warc.gz.open")}
    written = os.path.getsize(warc_path)          # all three captures' records
    synced = [n for n, (kind, path, size) in enumerate(events) if (kind, path, size) == ("fsync", warc_path, written)]
    published = max(n for n, (kind, path, _) in enumerate(events) if kind == "rename" and path.endswith(".cdxj"))
    index_file = max(n for n, (kind, path, _) in enumerate(events[:published])
                     if kind == "fsync" and str(ctx.settings.data_dir) in path and ".tmp-" in path)
    folder = published + 1
    assert events[folder][0] == "fsync" and events[published][1].startswith(events[folder][1])
    assert synced and synced[0] < published and index_file < published < folder < stored_at
    assert all(kind != "commit" or "stored" not in states for kind, states, _ in events[:stored_at])


def test_the_same_url_twice_in_one_batch_is_compared_with_the_first(ctx, fixture_site):
    url = fixture_site.url("/article?twice")
    first, second = submit(ctx, [url, url])
    run_captures(ctx, [first, second])
    a, b = rows(ctx, [first, second])
    assert (a.change, a.previous_id) == ("first", None)
    assert (b.change, b.previous_id, b.revisit_of) == ("unchanged", first, first)


def test_each_capture_of_a_batch_is_compared_with_the_previous_one_of_its_own_url(database_url, make_ctx,
                                                                                 fixture_site):
    ctx = make_ctx(database_url=database_url)
    stable, revised = fixture_site.url("/changes/stable"), fixture_site.url("/changes/revised")
    earlier = submit(ctx, [stable, revised])
    run_captures(ctx, earlier)                  # a task before this one
    # the previous captures of the URLs the task is given are read together; a redirect
    # ends on a URL it was not given, asked about on its own
    ids = submit(ctx, [stable, fixture_site.url("/article?batch-new"), revised,
                       fixture_site.url("/redirect-to?url=/changes/stable")])
    run_captures(ctx, ids)
    again, new, revised_again, redirected = rows(ctx, ids)
    assert (again.change, again.previous_id, again.revisit_of) == ("unchanged", earlier[0], earlier[0])
    assert (new.change, new.previous_id) == ("first", None)
    assert (revised_again.change, revised_again.previous_id) == ("changed", earlier[1])
    # its final URL's latest capture is the one this task stored first
    assert redirected.final_url == stable
    assert (redirected.change, redirected.previous_id) == ("unchanged", again.id)


def test_a_capture_deleted_meanwhile_does_not_hold_back_the_others(ctx, fixture_site):
    ids = submit(ctx, [fixture_site.url(f"/article?gone={n}") for n in range(3)])
    victim = ids[1]

    def deleting_fetch(url, settings, **kwargs):
        if url.endswith("gone=2"):       # the victim is written and waits in the batch
            with ctx.sessions.begin() as session:
                session.execute(delete(Capture).where(Capture.id == victim))
        return fetch(url, settings, **kwargs)

    ctx.fetcher = deleting_fetch
    outcomes = run_captures(ctx, ids)
    assert {o.capture_id: o.state for o in outcomes} == {ids[0]: "stored", ids[2]: "stored"}
    kept = rows(ctx, [ids[0], ids[2]])
    assert [c.state for c in kept] == ["stored", "stored"]
    with ctx.sessions() as session:
        assert session.get(Capture, victim) is None


def test_a_column_changed_meanwhile_reaches_what_storing_writes_next(ctx, fixture_site):
    """Storing reads back the columns it does not write; a capture changed since its claim
    (here another worker took it over) is stored with the row's values, not the claim's."""
    from sqlalchemy import update
    ids = submit(ctx, [fixture_site.url(f"/article?meanwhile={n}") for n in range(3)])
    taken = ids[1]

    def taking_fetch(url, settings, **kwargs):
        if url.endswith("meanwhile=2"):       # `taken` is written and waits in the batch
            with ctx.sessions.begin() as session:
                session.execute(update(Capture).where(Capture.id == taken)
                                .values(worker_host="other-host", attempts=Capture.attempts + 1))
        return fetch(url, settings, **kwargs)

    ctx.fetcher = taking_fetch
    run_captures(ctx, ids, task_id="meanwhile")
    with ctx.sessions() as session:
        agents = {i: [e.agent for e in entries_of(session, i)[1:]] for i in ids}
    assert {a["host"] for a in agents[taken]} == {"other-host"}
    assert {a["attempt"] for a in agents[taken]} == {2}
    assert {a["host"] for i in (ids[0], ids[2]) for a in agents[i]} == {ctx.settings.hostname}


def test_captures_a_task_never_reached_go_back_to_the_queue_uncharged(ctx, fixture_site):
    from archiver.capture import claim_all
    ids = submit(ctx, [fixture_site.url(f"/plain.txt?held={n}") for n in range(3)])
    assert set(claim_all(ctx, ids, "dead-task")) == set(ids)
    assert still_fetching(ctx, ids, "dead-task") == ids
    assert still_fetching(ctx, ids, "another-task") == []
    assert release(ctx, ids[1:], "dead-task", refund_attempt=True) == ids[1:]
    assert release(ctx, ids[:1], "dead-task", refund_attempt=False) == ids[:1]
    assert [(c.state, c.attempts) for c in rows(ctx, ids)] == [("queued", 1), ("queued", 0), ("queued", 0)]
    # released, they are claimed and stored as any queued capture
    assert {o.state for o in run_captures(ctx, ids, "next-task")} == {"stored"}


def test_a_slow_batch_renews_the_lease_of_the_captures_it_has_not_reached(make_ctx, fixture_site):
    # a hard limit of 2 s: claims are renewed once 0.5 s has passed (capture.LEASE_RENEWAL)
    ctx = make_ctx(task_soft_time_limit=1, task_time_limit=2, total_deadline=0.5, requisites_deadline=0.2)
    ids = submit(ctx, [fixture_site.url(f"/plain.txt?lease={n}") for n in range(2)])

    def slow_fetch(url, settings, **kwargs):
        if url.endswith("lease=0"):
            time.sleep(0.7)
        return fetch(url, settings, **kwargs)

    ctx.fetcher = slow_fetch
    assert {o.state for o in run_captures(ctx, ids, "slow-task")} == {"stored"}
    first, second = rows(ctx, ids)
    # claimed together, then the second's lease started again before its turn
    assert (second.started_at - first.started_at).total_seconds() >= 0.5


def test_the_evidence_a_batch_prepares_ahead_describes_its_rows_as_stored(database_url, make_ctx, fixture_site):
    """A batch makes its evidence entries before its transaction, from the captures as
    claimed: each capture's entries are those its row and records give as stored, its
    leaf hashes are those of its bytes, and one changed since its claim (another worker
    took it over) is described as its row is now."""
    from sqlalchemy import update

    from archiver.ledger import leaf_hash
    from archiver.ledger.events import capture_entries
    from archiver.ledger.log import entry_bytes
    from archiver.models import CaptureRecord
    ctx = make_ctx(database_url=database_url)
    urls = [fixture_site.url(p) for p in ("/article?ahead", "/plain.txt?ahead", "/404", "/redirect/2",
                                          "/article?ahead-taken", "/article?ahead")]
    ids = submit(ctx, urls)
    taken = ids[4]

    def taking_fetch(url, settings, **kwargs):
        if url.endswith("ahead-taken"):
            with ctx.sessions.begin() as session:
                session.execute(update(Capture).where(Capture.id == taken)
                                .values(worker_host="other-host", task_id="other-task"))
        return fetch(url, settings, **kwargs)

    ctx.fetcher = taking_fetch
    assert {o.state for o in run_captures(ctx, ids, task_id="ahead")} == {"stored"}
    with ctx.sessions() as session:
        for capture_id in ids:
            row = session.get(Capture, capture_id)
            records = session.scalars(select(CaptureRecord).where(CaptureRecord.capture_id == capture_id)
                                      .order_by(CaptureRecord.id)).all()
            expected = capture_entries(row, records, row.warc_file.filename)
            entries = entries_of(session, capture_id)[1:]          # after `submitted`
            assert [(e.event, e.agent, e.details, e.capture_id) for e in entries] == \
                [(n.event, n.agent, n.details, n.capture_id) for n in expected]
            assert all(bytes(e.leaf_hash) == leaf_hash(entry_bytes(e)) for e in entries)
        assert {e.agent["host"] for e in entries_of(session, taken)[1:]} == {"other-host"}


def test_claimed_captures_are_as_a_session_loads_them(database_url, make_ctx, fixture_site):
    """claim_all makes its Capture objects after the commit, from the rows the UPDATE
    returned: every column as a session loads it, detached, nothing pending."""
    from sqlalchemy import inspect

    from archiver.capture import claim_all
    ctx = make_ctx(database_url=database_url)
    ids = submit(ctx, [fixture_site.url(f"/article?claimed={n}") for n in range(4)])
    claimed = claim_all(ctx, ids + [10**9], "claim-task")
    assert list(claimed) == ids
    columns = [c.key for c in inspect(Capture).column_attrs]
    for loaded in rows(ctx, ids):
        capture = claimed[loaded.id]
        state = inspect(capture)
        assert state.detached and not state.modified and not state.unloaded & set(columns)
        assert {k: getattr(capture, k) for k in columns} == {k: getattr(loaded, k) for k in columns}
        assert (capture.state, capture.task_id, capture.attempts) == ("fetching", "claim-task", 1)


def test_two_workers_claiming_the_same_captures_share_them_out(database_url, make_ctx, fixture_site):
    """Two workers (each its own engine and writer lock, as two processes have) claim
    overlapping tasks at once, round after round: every capture goes to exactly one, and
    the captures each is given are the rows it holds."""
    import threading

    from archiver.capture import claim_all
    workers = [make_ctx(database_url=database_url), make_ctx(database_url=database_url)]
    for round_ in range(8):
        ids = submit(workers[0], [fixture_site.url(f"/plain.txt?race={round_}-{n}") for n in range(12)])
        barrier = threading.Barrier(2)
        won: dict[int, dict] = {}

        def claims(n: int) -> None:
            barrier.wait()
            # the two tasks overlap in the middle, in opposite orders
            wanted = ids[:8] if n == 0 else ids[4:][::-1]
            won[n] = claim_all(workers[n], wanted, f"task-{round_}-{n}")

        threads = [threading.Thread(target=claims, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not set(won[0]) & set(won[1])
        assert set(won[0]) | set(won[1]) == set(ids)
        for n, claimed in won.items():
            for row in rows(workers[n], list(claimed)):
                assert row.task_id == claimed[row.id].task_id == f"task-{round_}-{n}"


def test_previous_captures_read_after_the_claim_answer_as_the_catalogue_does(database_url, make_ctx,
                                                                            fixture_site):
    """The previous captures of a task's URLs are read after its claim commits: each
    capture of it is marked against the capture previous_capture() names, among those
    another worker stored before, several of a URL, and the task's own."""
    from archiver.changes import previous_capture
    first, second = make_ctx(database_url=database_url), make_ctx(database_url=database_url)
    stable, revised = fixture_site.url("/changes/stable"), fixture_site.url("/changes/revised")
    for _ in range(2):
        run_captures(second, submit(second, [stable, revised, fixture_site.url("/article?other-worker")]))
    ids = submit(first, [stable, fixture_site.url("/article?mine"), revised, stable,
                         fixture_site.url("/redirect-to?url=/changes/revised")])
    run_captures(first, ids)
    with first.sessions() as session:
        for capture in rows(first, ids):
            previous = previous_capture(session, capture)
            assert capture.previous_id == (previous.id if previous else None), capture.requested_url
        marked = [c.change for c in rows(first, ids)]
    assert marked[1] == "first" and "first" not in (marked[0], marked[2], marked[3], marked[4])
