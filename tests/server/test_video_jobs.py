"""The studio makes and extends clips: video and extend jobs through the API, on the
built-in video model, with the same engine and editor wiring as the CLI."""

import pytest

from .conftest import wait


@pytest.fixture(scope="module")
def clip(client):
    job = client.post(
        "/api/jobs/video",
        json={
            "prompt": "a red ball on a wooden table, the ball slides right, studio lighting",
            "preset": "preview",
            "seconds": 1,
            "seed": 7,
            "steps": 4,  # these tests are of the jobs, not of the clip's looks
        },
    ).json()
    done = wait(client, job["id"], timeout=300)
    assert done["state"] == "done", done
    return done


def test_a_video_job_stores_a_playable_clip(client, clip):
    asset = client.get(f"/api/assets/{clip['result']['outputs'][0]}").json()
    assert asset["mime"] == "video/mp4" and asset["record"]["job_id"] == clip["id"]
    assert asset["record"]["steps"] == 4
    assert (asset["width"], asset["height"]) == (640, 360) and clip["result"]["frames"] >= 24
    head = client.get(f"/api/assets/{asset['id']}/file", headers={"range": "bytes=0-15"})
    assert head.status_code == 206 and head.content[4:8] == b"ftyp"


def test_an_extend_job_continues_the_clip_and_names_it(client, clip):
    source = clip["result"]["outputs"][0]
    job = client.post(
        "/api/jobs/extend",
        json={
            "source": source,
            "seconds": 1,
            "prompt": "it keeps rolling",
            "steps": 4,
            "seed": 21,
            "negative_prompt": "grainy",
        },
    ).json()
    done = wait(client, job["id"], timeout=300)
    assert done["state"] == "done", done
    extended = client.get(f"/api/assets/{done['result']['outputs'][0]}").json()
    assert extended["record"]["operation"] == "extend" and extended["record"]["job_id"] == job["id"]
    assert source in {p["id"] for p in extended["parents"]}
    (then,) = [p["id"] for p in extended["parents"] if p["id"] != source]
    made = client.get(f"/api/assets/{then}").json()
    assert (made["record"]["steps"], made["record"]["seed"]) == (4, 21)
    assert made["negative_prompt"] == "grainy"
    assert done["result"]["duration"] > clip["result"]["duration"] + 0.5


@pytest.mark.parametrize(
    "body,reason",
    [
        ({"prompt": "x", "image": "/etc/passwd"}, "asset id"),
        ({"prompt": "x", "extend": "../../clip.mp4"}, "asset id"),
        ({"prompt": "x", "preset": "imax-8k"}, "preset"),
        ({"prompt": "x", "seconds": 0}, "seconds"),
    ],
)
def test_video_jobs_take_asset_ids_and_known_presets_only(client, body, reason):
    response = client.post("/api/jobs/video", json=body)
    assert response.status_code == 422 and reason in response.text


def test_extend_refuses_what_is_not_a_video(client):
    image_job = wait(
        client,
        client.post("/api/jobs/generate", json={"prompt": "a blue jar", "steps": 2}).json()["id"],
    )
    response = client.post(
        "/api/jobs/extend", json={"source": image_job["result"]["outputs"][0], "seconds": 1}
    )
    assert response.status_code == 422 and "not a video" in response.text
    assert client.post("/api/jobs/extend", json={"source": "0123456789ab"}).status_code == 404


def test_presets_are_listed(client):
    names = {p["name"] for p in client.get("/api/presets").json()}
    assert {"preview", "cinematic-1080p", "vertical-15s"} <= names
