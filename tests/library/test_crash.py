"""Kill a writer process at random points, many times: the library stays consistent."""

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cinedraft.library import Library
from cinedraft.media.files import sha256_file

from .conftest import make_record, noise_image

# The writer announces each step of the write path on stdout and then dawdles 20 ms (a slow
# disk), so the parent can aim its kill at the windows that matter (pending note committed but
# no file; file written but no row) as well as at random times.
WRITER = """
import sys, time
from cinedraft.library import Library, files, records
from tests.library.conftest import make_record, noise_image

def announce(name, fn):
    def wrapper(*args, **kwargs):
        print(name, flush=True)
        time.sleep(0.02)
        return fn(*args, **kwargs)
    return wrapper

files.FileStore.put = announce("put", files.FileStore.put)
records.insert_assets = announce("insert", records.insert_assets)
library = Library(sys.argv[1])
print("ready", flush=True)
i = 0
while True:
    size = 256 if i % 2 else 64   # watermarked and unmarked, PNG and WebP
    record = make_record(library, f"writer image {i}", size=size)
    library.add_image(noise_image(size, i), record, "png" if i % 3 else "webp", 80)
    i += 1
"""


def _visible_files_are_whole(root):
    for path in (root / "objects").glob("*/*"):
        if not path.name.startswith("."):  # temp files are hidden, never read as assets
            assert sha256_file(path) == path.stem, f"torn file {path}"


def test_killed_writer_never_leaves_the_library_inconsistent(tmp_path):
    root = tmp_path / "lib"
    rng = random.Random(0)
    rows_before, repaired = 0, 0
    for i in range(16):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=str(__import__("pathlib").Path(__file__).parents[2]),
        )
        assert proc.stdout.readline().strip() == "ready"
        stage = ("put", "insert", None)[i % 3]  # None: at a random time, wherever it is
        if stage:
            for _ in range(rng.randint(1, 3)):  # the 1st-3rd image's step
                while proc.stdout.readline().strip() != stage:
                    pass
            time.sleep(rng.uniform(0, 0.03))
        else:
            time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        _visible_files_are_whole(root)
        library = Library(root)  # the first opener reconciles
        repaired += bool(library.last_reconcile["adopted"] or library.last_reconcile["dropped"])
        report = library.check()
        assert report["ok"], report
        assert library.count() >= rows_before
        rows_before = library.count()
        library.close()
    assert rows_before > 0
    assert repaired >= 3  # kills did land inside writes, and were repaired


@pytest.mark.parametrize("crash_at", ["before_file", "after_file"])
def test_reconcile_finishes_or_undoes_an_interrupted_write(tmp_path, monkeypatch, crash_at):
    """The two windows a kill can hit, made deterministic."""
    from cinedraft.library import records
    from cinedraft.library.files import FileStore

    library = Library(tmp_path / "lib")
    record = make_record(library, "interrupted")

    def crash(*args, **kwargs):
        if crash_at == "before_file":  # a temp file exists, the rename never happened
            rel = library.files.relpath("ab" * 32, ".png")
            (library.root / rel).parent.mkdir(parents=True, exist_ok=True)
        raise KeyboardInterrupt  # as abrupt as it gets inside Python

    target = FileStore if crash_at == "before_file" else records
    monkeypatch.setattr(target, "put" if crash_at == "before_file" else "insert_assets", crash)
    with pytest.raises(KeyboardInterrupt):
        library.add_image(noise_image(64), record, "png", 90)
    monkeypatch.undo()
    pending = records.pending_paths(library.conn)
    assert len(pending) == 1
    if crash_at == "before_file":  # leave a temp file as a killed writer would
        path = library.files.resolve(pending[0])
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / f".{path.name}.xyz.tmp").write_bytes(b"half")
    library.close()

    reopened = Library(tmp_path / "lib")
    report = reopened.last_reconcile
    if crash_at == "after_file":
        assert report["adopted"] == [record["asset_id"]]
        assert reopened.get(record["asset_id"]).prompt == "interrupted"
    else:
        assert report["dropped"] == 1 and report["removed_temp"] == 1
        assert reopened.count() == 0
    assert reopened.check()["ok"]
    reopened.close()


def test_a_live_writers_pending_note_is_left_alone_and_settled_once_it_is_gone(
    tmp_path, monkeypatch
):
    from cinedraft.library import records

    writer = Library(tmp_path / "lib")
    record = make_record(writer, "in flight")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(records, "insert_assets", crash)
    with pytest.raises(KeyboardInterrupt):
        writer.add_image(noise_image(64), record, "png", 90)
    monkeypatch.undo()
    reader = Library(tmp_path / "lib")  # the writer is still open: its note is in flight
    assert reader.last_reconcile["in_flight"] == 1 and reader.last_reconcile["adopted"] == []
    assert len(records.pending_paths(reader.conn)) == 1
    writer.close()
    late = Library(tmp_path / "lib")  # the writer is gone; the reader is still open
    assert late.last_reconcile["adopted"] == [record["asset_id"]]
    assert late.check()["ok"] and late.count() == 1
    late.close()
    reader.close()


HOLDER = (
    "import sys, time; from cinedraft.library import Library; held = Library(sys.argv[1]);"
    " print('open', flush=True); time.sleep(600)"
)

# One server job's 24 outputs, committed together; "put" is announced after each file.
JOB_WRITER = """
import sys, time
from cinedraft.jobs import JobQueue
from cinedraft.library import Library, files
from tests.library.conftest import make_record, noise_image

put = files.FileStore.put
def announced(self, *args, **kwargs):
    stored = put(self, *args, **kwargs)
    print("put", flush=True)
    time.sleep(0.05)
    return stored
files.FileStore.put = announced
library = Library(sys.argv[1])
queue = JobQueue(library.root / "library.db")
queue.submit("generate", {"prompt": "x", "count": 24}, 0)
job = queue.claim(("generate",))
print(job.id, flush=True)
library.add_images([
    (noise_image(64, i), make_record(library, f"seed {i}", seed=i, job_id=job.id), "png", 90)
    for i in range(24)
])
"""


def test_a_killed_jobs_outputs_are_never_made_twice_while_another_process_has_the_library_open(
    tmp_path,
):
    from cinedraft.jobs import JobQueue

    root, cwd = tmp_path / "lib", str(Path(__file__).parents[2])
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(root)], stdout=subprocess.PIPE, text=True, cwd=cwd
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        writer = subprocess.Popen(
            [sys.executable, "-c", JOB_WRITER, str(root)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=cwd,
        )
        job_id = writer.stdout.readline().strip()
        for _ in range(3):
            assert writer.stdout.readline().strip() == "put"
        writer.send_signal(signal.SIGKILL)
        writer.wait()

        # The restart, with the holder still open: recovery adopts the 3 files first, so the
        # queue sees them and finishes the job as partial instead of running it again.
        library = Library(root)
        assert len(library.last_reconcile["adopted"]) == 3
        queue = JobQueue(root / "library.db")
        assert queue.recover() == {"requeued": [], "failed": [job_id], "resumed": []}
        job = queue.get(job_id)
        assert job.state == "failed" and len(job.result["outputs"]) == 3
        queue.close()
        library.close()
    finally:
        holder.kill()
        holder.wait()
    # The holder is gone: the next open finds nothing left to adopt.
    final = Library(root)
    assert final.last_reconcile["adopted"] == [] and final.count() == 3
    seeds = [a.seed for a in final.find(limit=100)]
    assert len(seeds) == len(set(seeds)) == 3
    assert final.check()["ok"]
    final.close()


def test_an_unadoptable_leftover_is_quarantined_and_the_library_still_opens(tmp_path, monkeypatch):
    """A crash's leftover whose embedded record cannot become a row (a list where a string
    belongs) is set aside with its reason; every later open works."""
    from cinedraft.library import records
    from cinedraft.media import metadata as encode

    library = Library(tmp_path / "lib", provenance=False)
    record = make_record(library, "bad leftover")
    real_encode = encode.encode_image

    def forged(image, rec, fmt, quality=100):  # the embedded record differs from the row's
        return real_encode(image, rec | {"job_id": ["x"]}, fmt, quality)

    monkeypatch.setattr("cinedraft.library.library.encode_image", forged)
    monkeypatch.setattr(
        records, "insert_assets", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt)
    )
    with pytest.raises(KeyboardInterrupt):
        library.add_image(noise_image(64), record, "png", 90)
    monkeypatch.undo()
    library.close()
    for _ in range(2):
        reopened = Library(tmp_path / "lib")
        report = reopened.check()
        assert report["ok"] and reopened.count() == 0 and report["pending"] == []
        assert [q["file"].split("/")[0] for q in report["quarantined"]] == ["lost+found"]
        assert "job_id" in report["quarantined"][0]["reason"]
        reopened.close()
