"""Kill a writer process at random points, many times: the library stays consistent."""

import random
import signal
import subprocess
import sys
import time

import pytest

from cinedraft.library import Library
from cinedraft.library.files import sha256_file

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
            [sys.executable, "-c", WRITER, str(root)], stdout=subprocess.PIPE, text=True,
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


def test_reconcile_waits_while_another_process_has_the_library_open(tmp_path):
    first = Library(tmp_path / "lib")
    second = Library(tmp_path / "lib")  # flock is per open file: a second opener
    assert first.last_reconcile is not None and second.last_reconcile is None
    second.close()
    first.close()
