"""A cluster worker's files: what the head sends with a task lives as long as the task."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from cinedraft import Engine, ImageRequest, Settings
from cinedraft.cluster.worker import RenderWorker


def test_a_worker_leaves_no_files_behind(tmp_path, monkeypatch):
    """The draft a promotion starts from is a file while the task runs and is gone after it;
    the policy is read when the worker starts and its file is gone too. Ray ends a worker by
    killing its process, so nothing can be cleaned at exit: each worker used to leave a
    folder in the system's temporary directory with its policy and its last task's files."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    home = tmp_path / "home"
    engine = Engine(Settings(home=home, offline=True, device="cpu"))
    prompt = "a red jar on a table"
    draft = engine.generate_image(ImageRequest(prompt=prompt, seed=2)).outputs[0]
    asset = engine.library.get(draft.asset_id)
    policy = 'allow = ["Acme"]\n'
    worker = RenderWorker("w1", {"home": str(home), "offline": True, "device": "cpu"}, policy)
    assert worker.image.guard.policy.allow and list(scratch.iterdir()) == []

    sent_files = []
    source = worker._source

    def kept(name, sent):  # the file as the task sees it
        asset = source(name, sent)
        sent_files.append((Path(asset.path), Path(asset.path).read_bytes() == sent["data"]))
        return asset

    monkeypatch.setattr(worker, "_source", kept)
    request = ImageRequest(prompt=prompt, seed=2, tier="production")
    result = worker.render(
        {
            "key": "job:0",
            "job": "job",
            "part": 0,
            "request": request.model_dump(mode="json"),
            "prompts": [prompt],
            "seeds": [2],
            "parent": {
                "asset": asset.model_dump(mode="json"),
                "data": Path(draft.path).read_bytes(),
            },
        }
    )
    assert result["images"][0].shape == (256, 256, 3), result.get("error")
    ((path, whole),) = sent_files
    assert whole and path.parent.parent == scratch and not path.exists()
    # named so that a worker starting after this one died would know whose it was
    assert path.parent.name.startswith(f"cinedraft-task-{socket.gethostname()}-{os.getpid()}-")
    assert list(scratch.iterdir()) == []


def test_a_starting_worker_removes_the_files_of_workers_that_died_mid_task(tmp_path, monkeypatch):
    """A worker killed in the middle of a task cannot remove that task's folder (the head's
    copy of a user's draft or clip); the next worker to start on the machine does, and leaves
    the folders of workers still running, here or on another machine sharing the folder."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True
    )
    dead = int(ended.stdout)  # a process number that has just ended
    here = f"cinedraft-task-{socket.gethostname()}-"
    folders = {
        "dead": scratch / f"{here}{dead}-a1b2c3d4",
        "running": scratch / f"{here}{os.getpid()}-e5f6g7h8",
        "elsewhere": scratch / f"cinedraft-task-another-machine-{dead}-i9j0k1l2",
        "named like it": scratch / f"{here}2-{dead}-m3n4o5p6",  # machine <this one>-2
    }
    for folder in folders.values():
        folder.mkdir()
        (folder / "parent.png").write_bytes(b"a user's draft")
    RenderWorker("w1", {"home": str(tmp_path / "home"), "offline": True, "device": "cpu"}, None)
    assert not folders["dead"].exists()
    assert all(folder.exists() for key, folder in folders.items() if key != "dead")
