import pytest

from cinedraft.errors import InputError
from cinedraft.jobs import JobCancelled, JobQueue, QueueFullError
from cinedraft.library import Library

from ..library.conftest import make_record, noise_image


@pytest.fixture
def setup(tmp_path):
    library = Library(tmp_path / "lib")
    queue = JobQueue(library.root / "library.db", max_queued=5)
    yield library, queue
    queue.close()
    library.close()


def test_priorities_then_age_decide_the_order(setup):
    _, queue = setup
    slow, _ = queue.submit("promote", {"n": 1}, priority=10)
    draft1, _ = queue.submit("generate", {"n": 2}, priority=0)
    draft2, _ = queue.submit("generate", {"n": 3}, priority=0)
    order = [queue.claim(("generate", "promote")).id for _ in range(3)]
    assert order == [draft1.id, draft2.id, slow.id]
    assert queue.claim(("generate",), timeout=0.01) is None


def test_workers_take_only_their_kinds(setup):
    _, queue = setup
    edit, _ = queue.submit("edit", {}, priority=5)
    assert queue.claim(("generate", "promote"), timeout=0.01) is None
    assert queue.claim(("edit",)).id == edit.id


def test_idempotency_key_and_bound(setup):
    _, queue = setup
    a, created = queue.submit("generate", {"x": 1}, 0, idem_key="same")
    b, again = queue.submit("generate", {"x": 1}, 0, idem_key="same")
    assert created and not again and a.id == b.id and b.request == {"x": 1}
    with pytest.raises(InputError, match="used for another request"):  # same key, new body
        queue.submit("generate", {"x": 2}, 0, idem_key="same")
    blank1, _ = queue.submit("generate", {}, 0, idem_key="")  # an empty key is no key
    blank2, _ = queue.submit("generate", {}, 0, idem_key="")
    assert blank1.id != blank2.id
    for i in range(2):
        queue.submit("generate", {"i": i}, 0)
    with pytest.raises(QueueFullError):
        queue.submit("generate", {}, 0)


def test_cancel_queued_now_and_running_at_its_next_report(setup):
    _, queue = setup
    waiting, _ = queue.submit("generate", {}, 0)
    running, _ = queue.submit("generate", {}, 1)
    assert queue.cancel(waiting.id) == "cancelled"
    claimed = queue.claim(("generate",))
    assert claimed.id == running.id
    events = []
    queue.listen(running.id, events.append)
    queue.report(running.id, "sample", 1, 10)
    assert queue.cancel(running.id) == "running"
    with pytest.raises(JobCancelled):
        queue.report(running.id, "sample", 2, 10)
    queue.finish(running.id, "cancelled")
    queue.finish(running.id, "done")  # a second end is ignored: one terminal state
    assert queue.get(running.id).state == "cancelled"
    assert events[0]["progress"] == {"stage": "sample", "done": 1, "total": 10}


def test_recover_requeues_clean_jobs_and_fails_partial_ones(setup, tmp_path):
    library, queue = setup
    clean, _ = queue.submit("generate", {}, 0)
    partial, _ = queue.submit("generate", {}, 0)
    queue.claim(("generate",)), queue.claim(("generate",))
    record = make_record(library, "half done", job_id=partial.id)
    stored = library.add_image(noise_image(64), record, "png")
    report = queue.recover()
    assert report == {"requeued": [clean.id], "failed": [partial.id], "resumed": []}
    assert queue.get(clean.id).state == "queued"
    failed = queue.get(partial.id)
    assert failed.state == "failed" and failed.result == {"outputs": [stored.id], "partial": True}


def test_a_kind_that_resumes_itself_is_queued_again_with_outputs(setup):
    """A catalogue finds what it stored and makes the rest, so a restart queues it again."""
    library, queue = setup
    catalogue, _ = queue.submit("catalogue", {}, 15)
    queue.claim(("catalogue",))
    record = make_record(library, "one SKU done", job_id=catalogue.id)
    library.add_image(noise_image(64), record, "png")
    report = queue.recover(requeue=("catalogue",))
    assert report == {"requeued": [catalogue.id], "failed": [], "resumed": []}
    assert queue.get(catalogue.id).state == "queued"


def test_a_job_that_keeps_dying_fails_after_max_attempts(tmp_path):
    from cinedraft.jobs.queue import MAX_ATTEMPTS

    queue = JobQueue(tmp_path / "q.db")
    job, _ = queue.submit("generate", {"prompt": "x"}, 0)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert queue.claim(("generate",)).attempts == attempt  # the server dies during it
        report = queue.recover()
        if attempt < MAX_ATTEMPTS:
            assert report["requeued"] == [job.id]
    assert report["failed"] == [job.id]
    failed = queue.get(job.id)
    assert failed.state == "failed" and f"after {MAX_ATTEMPTS} attempts" in failed.error
    queue.close()
