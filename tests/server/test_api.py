"""Every route of the REST API, through a real app with its workers and the built-in model."""

import io
import json

import numpy as np
from PIL import Image

from ..editor.conftest import make_clip
from .conftest import wait


def _draft(client, **extra) -> dict:
    body = {
        "prompt": "a {red|blue} jar on a glass table",
        "template": True,
        "count": 2,
        "seed": 4,
        "steps": 3,
    } | extra
    job = client.post("/api/jobs/generate", json=body)
    assert job.status_code == 202, job.text
    done = wait(client, job.json()["id"])
    assert done["state"] == "done", done
    return done


def test_generate_promote_and_the_asset_routes(client):
    done = _draft(client)
    draft_id = done["result"]["outputs"][0]
    job = client.post("/api/jobs/promote", json={"asset_id": draft_id, "steps": 4})
    promoted = wait(client, job.json()["id"])
    assert promoted["state"] == "done" and promoted["result"]["parent"] == draft_id
    final_id = promoted["result"]["outputs"][0]
    asset = client.get(f"/api/assets/{final_id}").json()
    assert asset["tier"] == "production" and asset["ancestors"][0]["id"] == draft_id
    assert asset["record"]["job_id"] == job.json()["id"] and asset["metrics"]["sharpness"] > 0
    file = client.get(f"/api/assets/{final_id}/file")
    assert (
        file.headers["content-type"] == "image/png"
        and file.headers["x-content-type-options"] == "nosniff"
    )
    assert Image.open(io.BytesIO(file.content)).size == (256, 256)
    verify = client.get(f"/api/assets/{final_id}/verify").json()
    assert (
        verify["ok"]
        and verify["manifest"]["state"] == "Trusted"
        and verify["watermark"] == final_id
    )
    assert client.post(f"/api/assets/{final_id}/tags", json={"add": ["hero"]}).json()["tags"] == [
        "hero"
    ]
    assert client.post(f"/api/assets/{final_id}/rating", json={"rating": 4}).json()["rating"] == 4
    assert client.post(f"/api/assets/{final_id}/favourite", json={"on": True}).json()["favourite"]
    found = client.get("/api/assets", params={"text": "jar", "tier": "production"}).json()
    assert [a["id"] for a in found] == [final_id] and "record" not in found[0]
    assert (
        client.get("/api/assets", params={"tags": "hero", "favourite": True}).json()[0]["id"]
        == final_id
    )
    report = client.post("/api/analyze", json={"asset_ids": [draft_id, final_id]}).json()
    assert report["images"]["verdict"][0]["clearer"] == final_id
    web = client.post(f"/api/assets/{final_id}/export", json={"profile": "web"}).json()
    assert web["id"] != final_id and web["mime"] == "image/webp"
    assert client.get(f"/api/assets/{web['id']}").json()["ancestors"][0]["id"] == final_id
    assert client.get(f"/api/assets/{web['id']}/verify").json()["watermark"] == final_id
    bad = client.post(f"/api/assets/{final_id}/export", json={"profile": "print"})
    assert bad.status_code == 422


def test_job_listing_events_idempotency_and_cancel(client):
    body = {"prompt": "a green ball on a plain backdrop", "count": 1, "seed": 1, "steps": 2}
    first = client.post("/api/jobs/generate", json=body, headers={"Idempotency-Key": "k-1"}).json()
    again = client.post("/api/jobs/generate", json=body, headers={"Idempotency-Key": "k-1"}).json()
    assert again["id"] == first["id"]  # submitted once
    with client.stream("GET", f"/api/jobs/{first['id']}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        text = "".join(stream.iter_text())
    assert (
        "event: end" in text
        and json.loads(text.split("event: end\ndata: ")[1].split("\n")[0])["state"] == "done"
    )
    assert any(
        j["id"] == first["id"] for j in client.get("/api/jobs", params={"state": "done"}).json()
    )
    slow = client.post("/api/jobs/generate", json=body | {"count": 16, "steps": 40}).json()
    cancelled = client.post(f"/api/jobs/{slow['id']}/cancel").json()
    assert wait(client, cancelled["id"])["state"] == "cancelled"
    assert client.get("/api/jobs/0123456789abcdef").status_code == 404


def test_uploads_are_checked_and_edits_run(client):
    png = io.BytesIO()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(png, "PNG")
    up = client.post("/api/uploads", files={"file": ("a.png", png.getvalue(), "image/png")})
    assert up.status_code == 201 and up.json()["kind"] == "import"
    again = client.post("/api/uploads", files={"file": ("a.png", png.getvalue(), "image/png")})
    assert again.status_code == 409  # the same bytes: that asset, named, not a second one
    assert again.json()["asset"]["id"] == up.json()["id"]
    assert up.json()["id"] in again.json()["detail"]
    assert (
        client.post("/api/uploads", files={"file": ("x.png", b"<html>", "image/png")}).status_code
        == 422
    )
    bomb = io.BytesIO()
    Image.new("1", (8000, 8000)).save(bomb, "PNG")  # 64 Mpx, a few KB
    assert (
        client.post(
            "/api/uploads", files={"file": ("b.png", bomb.getvalue(), "image/png")}
        ).status_code
        == 413
    )
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        clip = open(make_clip(f"{tmp}/c.mp4", frames=48), "rb").read()
    video = client.post("/api/uploads", files={"file": ("c.mp4", clip, "video/mp4")}).json()
    job = client.post(
        "/api/jobs/edit", json={"op": "cut", "sources": [video["id"]], "start": 0.5, "end": 1.5}
    ).json()
    done = wait(client, job["id"])
    assert done["state"] == "done", done
    cut = client.get(f"/api/assets/{done['result']['outputs'][0]}").json()
    assert cut["record"]["frames"] == 24 and cut["ancestors"][0]["id"] == video["id"]
    assert client.get(f"/api/assets/{cut['id']}/file").headers["content-type"] == "video/mp4"
    grade = {"op": "grade", "sources": [video["id"]], "instruction": "more contrast, b&w"}
    done = wait(client, client.post("/api/jobs/edit", json=grade).json()["id"])
    assert done["state"] == "done", done
    graded = client.get(f"/api/assets/{done['result']['outputs'][0]}").json()
    kinds = [a["kind"] for a in graded["record"]["parameters"]["adjustments"]]
    assert kinds == ["contrast", "grayscale"] and graded["record"]["frames"] == 48
    refused = client.post("/api/jobs/edit", json=grade | {"instruction": "make the ball blue"})
    assert refused.status_code == 422 and "is not an exact change" in refused.json()["detail"]
    image = {"sources": [up.json()["id"]]}  # an image named as a clip: no job, a 422
    refused = client.post("/api/jobs/edit", json=grade | image)
    assert refused.status_code == 422 and "is not a video asset" in refused.json()["detail"]
    cut = {"op": "cut", "sources": [video["id"], up.json()["id"]]}
    assert client.post("/api/jobs/edit", json=cut).status_code == 422


def test_bad_requests_are_4xx_with_a_message(client):
    assert client.post("/api/jobs/generate", json={"prompt": "  "}).status_code == 422
    editing = client.post("/api/jobs/generate", json={"prompt": "a [red:blue:0.5] jar"})
    assert editing.status_code == 422 and "prompt editing" in editing.text  # before any job
    assert client.post("/api/jobs/promote", json={"asset_id": "ffffffffffff"}).status_code == 404
    r = client.post("/api/jobs/generate", json={"prompt": "x", "model": "no-such-model"})
    assert r.status_code == 422 and "no model named 'no-such-model'" in r.json()["detail"]
    assert client.get("/api/assets", params={"text": '"unclosed'}).status_code == 422
    assert client.get("/api/health").json()["ok"]
    assert client.get("/openapi.json").json()["info"]["title"] == "cinedraft studio"
    page = client.get("/")
    assert '<script type="module" src="/static/app.js">' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_the_default_model_loads_when_the_server_starts(tmp_path):
    """The model worker loads the draft model before any job asks; /api/health says so."""
    import time

    from fastapi.testclient import TestClient

    from cinedraft.server import create_app

    from .conftest import HOST, settings

    with TestClient(create_app(settings(tmp_path), hosts={HOST})) as c:
        deadline = time.time() + 120
        while (state := c.get("/api/health").json()["model"]) in ("waiting", "loading"):
            assert time.time() < deadline
            time.sleep(0.05)
        assert state == "ready"
        engine = c.app.state.workspace.engine()
        assert ("image", "builtin") in engine.models._models  # loaded, no job asked
    broken = settings(tmp_path / "b").model_copy(update={"model": "/no/such/model"})
    with TestClient(create_app(broken, hosts={HOST})) as c:
        deadline = time.time() + 60
        while (state := c.get("/api/health").json()["model"]) in ("waiting", "loading"):
            assert time.time() < deadline
            time.sleep(0.05)
        assert state.startswith("failed: model folder not found")


def test_more_like_an_image_is_a_request_the_generate_route_takes(
    client, tiny_sd, tiny_sd_adapters
):
    """``/assets/{id}/like``: the settings of an image made here (its LoRA by the models-
    folder name the generate route takes), which render it again when submitted; an A1111
    image's claims with what could not be carried said; a photo that says nothing: 422."""
    import shutil
    import tempfile
    from pathlib import Path

    from cinedraft import Engine
    from cinedraft.request import ImageRequest, Lora

    from ..media.test_metadata import _a1111_file

    settings = client.app.state.workspace.settings
    (settings.models_root / "loras").mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny_sd_adapters["lora"], settings.models_root / "loras" / "style.safetensors")
    shutil.copytree(tiny_sd, settings.models_root / "tiny-sd")
    body = {
        "prompt": "a (red jar:1.2) on a table",
        "negative_prompt": "blurry",
        "model": "tiny-sd",
        "loras": [{"ref": "style.safetensors", "weight": 0.7}],
        "seed": 5,
        "steps": 2,
        "width": 32,
        "height": 32,
    }
    made = _draft(client, **body, template=False, count=1)["result"]["outputs"][0]
    like = client.get(f"/api/assets/{made}/like").json()
    assert like["notes"] == [] and like["request"] | body == like["request"]
    again = _draft(client, **like["request"])["result"]["outputs"][0]

    def pixels(asset_id):
        return np.asarray(
            Image.open(io.BytesIO(client.get(f"/api/assets/{asset_id}/file").content))
        )

    assert again != made and np.array_equal(pixels(again), pixels(made))

    # a model and a LoRA given by path (the CLI can): the API takes none, so they are said,
    # not carried; a model of the models folder given by path is carried by its name
    lora = Lora(ref=str(tiny_sd_adapters["lora"]))
    outside = Engine(settings).generate_image(
        ImageRequest(**(body | {"model": str(tiny_sd), "loras": [lora]}))
    )
    like = client.get(f"/api/assets/{outside.outputs[0].asset_id}/like").json()
    assert like["request"]["loras"] == [] and like["request"]["seed"] == 5
    assert like["request"]["model"] is None
    assert like["notes"] == [
        f"model {tiny_sd.name!r} is not in {settings.models_root}: the default is used",
        f"LoRA 'lora.safetensors' is not in {settings.models_root / 'loras'}: not carried",
    ]
    inside = Engine(settings).generate_image(
        ImageRequest(**(body | {"model": str(settings.models_root / "tiny-sd")}))
    )
    like = client.get(f"/api/assets/{inside.outputs[0].asset_id}/like").json()
    assert like["request"]["model"] == "tiny-sd" and like["notes"] == []
    # a model since taken out of the folder: the generate route would refuse its name
    (settings.models_root / "tiny-sd").rename(settings.models_root / "tiny-sd-old")
    like = client.get(f"/api/assets/{made}/like").json()
    assert like["request"]["model"] is None
    assert like["notes"] == [
        f"model 'tiny-sd' is not in {settings.models_root}: the default is used"
    ]

    a1111 = client.post("/api/uploads", files={"file": ("x.png", _a1111_file("png").getvalue())})
    like = client.get(f"/api/assets/{a1111.json()['id']}/like").json()
    assert like["request"]["negative_prompt"] == "blurry, lowres"
    assert like["request"]["scheduler"] == "dpm++-karras" and like["request"]["seed"] == 1234567890
    assert any("'v1-5-pruned-emaonly' is not in" in note for note in like["notes"])
    photo = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(photo, "PNG")
    photo = client.post("/api/uploads", files={"file": ("p.png", photo.getvalue())}).json()
    said = client.get(f"/api/assets/{photo['id']}/like")
    assert said.status_code == 422 and "says nothing of how it was made" in said.json()["detail"]
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(make_clip(f"{tmp}/c.mp4", frames=12)).read_bytes()
    clip = client.post("/api/uploads", files={"file": ("c.mp4", clip, "video/mp4")}).json()
    said = client.get(f"/api/assets/{clip['id']}/like")
    assert said.status_code == 422 and "is not an image asset" in said.json()["detail"]


def test_generate_applies_styles_before_the_job_is_queued(client):
    """The server's styles file, named in the request; an unknown style or one the policy
    would block is a 422 before any job."""
    home = client.app.state.workspace.settings.home
    (home / "styles.csv").write_text(
        "name,prompt,negative_prompt\nstill,a film still of {prompt},grainy\n"
    )
    job = client.post(
        "/api/jobs/generate", json={"prompt": "a jar", "styles": ["still"], "steps": 1}
    )
    assert job.status_code == 202, job.text
    assert job.json()["request"]["prompt"] == "a film still of a jar"
    assert job.json()["request"]["negative_prompt"] == "grainy"
    assert "styles" not in job.json()["request"]
    assert wait(client, job.json()["id"])["state"] == "done"
    listed = client.get("/api/styles").json()
    assert listed == [
        {"name": "still", "prompt": "a film still of {prompt}", "negative_prompt": "grainy"}
    ]
    bad = client.post("/api/jobs/generate", json={"prompt": "a jar", "styles": ["noir"]})
    assert bad.status_code == 422 and "no style 'noir'" in bad.json()["detail"]


def test_the_models_a_request_may_name_are_listed_by_name(tmp_path, monkeypatch):
    """``/api/models``: what the studio's pickers offer, by the names the job routes take:
    the models folder's folders and checkpoints (not a pickle, which would be refused), the
    HF cache's pipelines, each with its kind, and the folder's LoRAs, embeddings and VAEs."""
    from fastapi.testclient import TestClient

    from cinedraft.server import create_app
    from tests.hf_cache import hf_cache_layout

    from .conftest import HOST, settings

    def pipeline(folder, class_name):
        folder.mkdir(parents=True)
        (folder / "model_index.json").write_text(json.dumps({"_class_name": class_name}))
        return folder

    models = tmp_path / "home" / "models"
    pipeline(models / "my-sdxl", "StableDiffusionXLPipeline")
    pipeline(models / "my-refiner", "StableDiffusionXLImg2ImgPipeline")
    (models / "anime.safetensors").write_bytes(b"{}")
    (models / "old.ckpt").write_bytes(b"pickle")
    for sub, name in (("loras", "ink.safetensors"), ("embeddings", "bad.safetensors")):
        (models / sub).mkdir()
        (models / sub / name).write_bytes(b"{}")
        (models / sub / "notes.txt").write_text("not a file a request takes")
    (models / "vae").mkdir()
    (models / "vae" / "sdxl-vae").mkdir()
    wan = pipeline(tmp_path / "wan", "WanPipeline")
    hf_cache_layout(tmp_path / "hf-cache", "someone/wan", wan)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    app = create_app(settings(tmp_path / "home"), hosts={HOST}, workers=False)
    with TestClient(app) as client:
        listed = client.get("/api/models").json()
    kinds = {(m["name"], m["source"]): m["kind"] for m in listed["models"]}
    assert kinds == {
        ("builtin", "built in"): "image",
        ("builtin-edit", "built in"): "edit",
        ("anime", "models folder"): "image",
        ("my-refiner", "models folder"): "refiner",
        ("my-sdxl", "models folder"): "image",
        ("someone/wan", "HF cache"): "video",
    }
    assert listed["default"] == listed["video_default"] == "builtin"
    assert listed["loras"] == ["ink.safetensors"] and listed["embeddings"] == ["bad.safetensors"]
    assert listed["vaes"] == ["sdxl-vae"]
    assert {"dpm++", "euler-a", "ddim"} <= set(listed["schedulers"])


def test_a_seed_of_minus_one_is_random_on_every_route_that_takes_a_seed(tmp_path):
    """Scripts written for A1111's API send ``"seed": -1`` for a random seed: it was a 422."""
    from fastapi.testclient import TestClient

    from cinedraft.server import create_app

    from .conftest import HOST, settings

    with TestClient(create_app(settings(tmp_path), hosts={HOST}, workers=False)) as client:
        for route in ("generate", "video"):
            job = client.post(f"/api/jobs/{route}", json={"prompt": "a jar", "seed": -1})
            assert job.status_code == 202 and job.json()["request"]["seed"] is None, job.text
        bad = client.post("/api/jobs/generate", json={"prompt": "a jar", "seed": -2})
        assert bad.status_code == 422
