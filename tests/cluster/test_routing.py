"""Cluster mode's rules without a cluster: how a job is split, which worker takes a part,
which part goes first, who may join, and that one-machine mode never imports Ray."""

import subprocess

import numpy as np
import pytest
import sys
import time

from cinedraft._version import __version__
from cinedraft.cluster.head import Worker, part_groups, pick_worker
from cinedraft.cluster.protocol import MalformedResult, card, clip_of, refusal, rendered_of
from cinedraft.engine.models import MODELS_LAYOUT
from cinedraft.jobs import JobQueue
from cinedraft.jobs import leases
from cinedraft.library import Library
from cinedraft.request import ImageRequest, no_progress

from ..server.conftest import free_port


def test_a_large_job_is_split_by_image_over_the_workers():
    seeds = list(range(200))
    parts = part_groups([f"p{i}" for i in seeds], seeds, workers=2)
    assert [len(s) for _, s in parts] == [8] * 25  # one pipeline batch each
    assert [s for _, group in parts for s in group] == seeds  # every image once, in order
    assert [len(s) for _, s in part_groups(["p"] * 6, list(range(6)), workers=2)] == [2, 2, 2]
    assert len(part_groups(["p"], [1], workers=0)) == 1


def _worker(name, models=()):
    return Worker(name, None, {}, ours=True, models=list(models))


def test_a_part_goes_to_a_worker_with_its_model_loaded():
    a, b, c = _worker("a"), _worker("b", ["sdxl"]), _worker("c", ["builtin"])
    assert pick_worker([a, b, c], "builtin", set()) is c  # affinity
    assert pick_worker([a, b], "builtin", set()) is a  # else the first free one
    assert pick_worker([a, b, c], "builtin", {"c"}) is a  # not one that lacks it
    assert pick_worker([a], "builtin", {"a"}) is None


def test_drafts_go_before_production_before_clips(tmp_path):
    Library(tmp_path).close()  # the database and its migrations
    queue = JobQueue(tmp_path / "library.db")
    order = [("production", 10), ("draft", 0), ("draft too", 0)]
    for name, priority in order:
        job, _ = queue.submit("generate", {"prompt": name}, priority)
        queue.claim(("generate",), timeout=0)
        leases.split(queue.conn, job.id, [([name], [1]), ([name], [2])])
    queued = [(p["prompts"][0], p["part"]) for p in leases.queued_parts(queue.conn)]
    assert queued == [
        ("draft", 0),
        ("draft", 1),
        ("draft too", 0),
        ("draft too", 1),
        ("production", 0),
        ("production", 1),
    ]


def test_a_worker_of_another_version_or_layout_is_refused_naming_both():
    head = card("head", "none")
    assert refusal(card("w", "cuda"), head) is None
    older = refusal(card("w", "cuda") | {"version": "0.0.1"}, head)
    assert "worker w runs cinedraft 0.0.1, the head runs " + __version__ in older
    other = refusal(card("w", "cpu") | {"layout": MODELS_LAYOUT + 1}, head)
    assert f"layout {MODELS_LAYOUT + 1}, the head by layout {MODELS_LAYOUT}" in other


def test_an_address_nobody_answers_fails_in_one_line_within_seconds(tmp_path):
    started = time.monotonic()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "cinedraft",
            "--home",
            str(tmp_path),
            "serve",
            "--ray",
            f"127.0.0.1:{free_port()}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0, run.stderr
    assert "no Ray cluster answers at 127.0.0.1:" in run.stderr
    assert time.monotonic() - started < 20  # the connect itself waits at most 5 s


def test_one_machine_mode_never_imports_ray(tmp_path):
    code = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from cinedraft import Settings\n"
        "from cinedraft.server import create_app\n"
        "import cinedraft.cli.main\n"
        f"app = create_app(Settings(home={str(tmp_path)!r}, offline=True), workers=False)\n"
        "with TestClient(app, base_url='http://127.0.0.1') as c:\n"
        "    assert c.get('/api/cluster').json() == {'mode': 'local', 'address': None,"
        " 'workers': []}\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize(
    ("result", "says"),
    [
        ("a clip", "is a str, not a dict"),
        ({"clip": b"x", "poster": b"", "contact_sheet": b"y"}, "missing or not bytes"),
        (
            {"clip": b"x", "poster": b"p", "contact_sheet": b"s", "record": {"kind": "video"}},
            "the record is not a clip's",
        ),
    ],
)
def test_a_malformed_clip_is_refused_with_what_is_wrong(result, says):
    with pytest.raises(MalformedResult, match=says):
        clip_of(result, {"prompts": ["a ball"], "seeds": [1]})


def test_a_worker_result_is_checked_and_takes_the_heads_ids(engine):
    (made,) = engine.render_images(ImageRequest(prompt="a red jar", seed=3), no_progress)
    task = {"prompts": ["a red jar"], "seeds": [3]}
    good = {"images": [np.asarray(made.image)], "records": [made.record.to_dict()], "drift": [None]}
    (checked,) = rendered_of(good, task)
    assert checked.record.asset_id != made.record.asset_id  # the head names what it stores
    assert np.array_equal(np.asarray(checked.image), np.asarray(made.image))
    stray = made.record.to_dict() | {"parents": [{"id": "0123456789ab", "role": "draft"}]}
    with pytest.raises(MalformedResult, match="0123456789ab as a parent, which was not sent"):
        rendered_of(good | {"records": [stray]}, task)
    with pytest.raises(MalformedResult, match="another prompt or seed"):
        rendered_of(good, task | {"seeds": [4]})
    with pytest.raises(MalformedResult, match="not an RGB array of bytes"):
        rendered_of(good | {"images": [np.asarray(made.image, float)]}, task)
