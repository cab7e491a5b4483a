"""A catalogue through the API and the job queue: packshots uploaded first and named in the
list, per-SKU progress, the results by SKU, bad files refused before anything is queued."""

import io

import numpy as np
from PIL import Image

from ..catalogue.conftest import packshot
from .conftest import wait

SHEET = (
    "sku,name,colour,prompt,packshot,scenes,aspects\n"
    'B-1,bottle,red,a {colour} {name} on a wooden table,bottle.png,1,"1:1,9:16"\n'
    ",nameless,,,,,\n"
    'C-3,cup,green,a {colour} {name} on a glass table,,1,"4:5"\n'
)


def _upload(client, image: Image.Image) -> str:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    response = client.post("/api/uploads", files={"file": ("p.png", buf.getvalue(), "image/png")})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_a_catalogue_runs_as_one_job_with_progress_per_sku(client):
    bottle = _upload(client, packshot("bottle", "red", seed=1)[0])
    body = {"sheet": SHEET, "packshots": {"bottle.png": bottle},
            "brand": 'palette = ["#8b5a2b"]\n'}  # fmt: skip
    submitted = client.post("/api/jobs/catalogue", json=body)
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["id"]
    stages = set()
    with client.stream("GET", f"/api/jobs/{job_id}/events") as events:
        for line in events.iter_lines():
            if line.startswith("data:") and '"stage"' in line:
                stages.add(line.split('"stage": "')[1].split('"')[0])
    done = wait(client, job_id)
    assert done["state"] == "done", done["error"]
    assert {"B-1", "C-3", "catalogue"} <= stages
    result = done["result"]
    assert result["failed"] == ["line 3: the sku is empty"]
    bottle_files = next(s["files"] for s in result["skus"] if s["sku"] == "B-1")
    aspects = {f["aspect"]: f for f in bottle_files if f["role"] == "aspect"}
    assert sorted(aspects) == ["1:1", "9:16"]
    assert all(f["product_ssim"] >= 0.98 for f in aspects.values())
    tall = np.asarray(Image.open(io.BytesIO(client.get(
        f"/api/assets/{aspects['9:16']['asset_id']}/file").content)))  # fmt: skip
    assert abs(tall.shape[1] / tall.shape[0] - 9 / 16) < 0.01
    assert set(result["outputs"]) >= {f["asset_id"] for f in aspects.values()}
    # the job's outputs are the library's assets of the job, as for every other kind
    record = client.get(f"/api/assets/{aspects['9:16']['asset_id']}").json()["record"]
    assert record["job_id"] == job_id and record["catalogue"]["row"]["sku"] == "B-1"
    # sent again, it makes nothing
    again = wait(client, client.post("/api/jobs/catalogue", json=body).json()["id"])
    assert all(s["made"] == 0 for s in again["result"]["skus"])


def test_bad_catalogues_are_refused_before_they_queue(quiet):
    cases = [
        ({"sheet": "name\njar\n"}, "no 'sku' column"),
        ({"sheet": "sku,name\nA,jar\nA,cup\n"}, "'A' is on line 2 and line 3"),
        ({"sheet": "sku,name\nA,jar\n", "brand": 'palette = ["red"]'}, "is not a colour"),
        ({"sheet": "sku,name\nA,jar\n", "packshots": {"../x.png": "0123456789ab"}}, "name"),
        ({"sheet": "sku,name\nA,jar\n", "packshots": {"x.png": "0123456789ab"}}, "no asset"),
        ({"sheet": "sku,name\nA,jar\n", "brand": 'logo = "/etc/passwd"'}, "no logo or font"),
        ({"sheet": "sku,name\nA,jar\n", "aspects": ["0:1"]}, "aspect must look like"),
    ]
    for body, message in cases:
        response = quiet.post("/api/jobs/catalogue", json=body)
        assert response.status_code in (404, 422), (body, response.text)
        assert message in response.text, (body, response.text)
    assert not [j for j in quiet.get("/api/jobs").json() if j["kind"] == "catalogue"]
