"""Edit turns through the API and the job queue: refine, inpaint (a drawn mask), outpaint,
the thread, and the refusals before anything is queued."""

import base64
import io

import numpy as np
from PIL import Image

from .conftest import wait


def _draft(client) -> str:
    job = client.post(
        "/api/jobs/generate", json={"prompt": "a red bottle on a wooden table", "seed": 5}
    ).json()
    return wait(client, job["id"])["result"]["outputs"][0]


def _png(client, asset_id) -> np.ndarray:
    data = client.get(f"/api/assets/{asset_id}/file").content
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _mask_url(size, box) -> str:
    mask = Image.new("L", size, 0)
    mask.paste(255, box)
    buf = io.BytesIO()
    mask.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_refine_inpaint_outpaint_run_as_jobs_and_make_a_thread(client):
    source = _draft(client)
    refine = client.post("/api/jobs/refine", json={"source": source, "instruction": "warmer"})
    assert refine.status_code == 202
    done = wait(client, refine.json()["id"])
    assert done["state"] == "done" and done["result"]["route"] == "exact"
    warmer = done["result"]["outputs"][0]

    inpaint = client.post(
        "/api/jobs/inpaint",
        json={
            "source": warmer,
            "prompt": "a blue bottle on a wooden table",
            "mask": _mask_url((64, 64), (16, 12, 48, 48)),
            "seed": 2,
        },
    )
    done = wait(client, inpaint.json()["id"])
    assert done["state"] == "done", done["error"]
    painted = done["result"]["outputs"][0]
    assert done["result"]["turn"] == 2 and done["result"]["thread"] == source
    before, after = _png(client, warmer), _png(client, painted)
    outside = np.ones((64, 64), bool)
    outside[12:48, 16:48] = False
    assert np.array_equal(before[outside], after[outside])

    outpaint = client.post("/api/jobs/outpaint", json={"source": painted, "aspect": "9:16"})
    done = wait(client, outpaint.json()["id"])
    grown = done["result"]["outputs"][0]
    assert client.get(f"/api/assets/{grown}").json()["height"] == 114

    thread = client.get(f"/api/assets/{grown}/thread").json()
    assert [t["asset_id"] for t in thread] == [source, warmer, painted, grown]
    assert [t["route"] for t in thread] == [None, "exact", "inpaint", "outpaint"]


def test_bad_turns_are_refused_before_the_queue(client):
    source = _draft(client)
    bad = [
        ("/api/jobs/refine", {"source": "/etc/passwd", "instruction": "warmer"}),
        (
            "/api/jobs/inpaint",
            {"source": source, "prompt": "x", "strength": 2.0, "region": [0, 0, 8, 8]},
        ),
        ("/api/jobs/inpaint", {"source": source, "prompt": "x"}),
        ("/api/jobs/inpaint", {"source": source, "prompt": "x", "mask": "/etc/passwd"}),
        ("/api/jobs/outpaint", {"source": source, "aspect": "9:16", "expand": {"left": 8}}),
    ]
    for path, body in bad:
        response = client.post(path, json=body)
        assert response.status_code == 422, (path, body, response.text)
    missing = client.post("/api/jobs/refine", json={"source": "0" * 12, "instruction": "warmer"})
    assert missing.status_code == 404


def test_an_instruction_the_model_cannot_do_fails_the_job_with_what_it_can(client):
    source = _draft(client)
    job = client.post(
        "/api/jobs/refine", json={"source": source, "instruction": "add a hat"}
    ).json()
    done = wait(client, job["id"])
    assert done["state"] == "failed" and "warmer" in done["error"]
