"""The studio in Chromium (Playwright): ideate -> promote -> compare, library search, an asset
page; prompts with markup stay text. Screenshots go to ``test-artifacts/``."""

import io
import json
import os
import re
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from playwright.sync_api import expect

from cinedraft.server import create_app

from ..editor.test_playback import ARGS, CHROMIUM, PLAY
from .conftest import settings

ARTIFACTS = Path(
    os.environ.get("CINEDRAFT_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts")
)
XSS = '<img src=x onerror="window.__xss=1">'
POLICY = """allow = ["Acme"]

[[rule]]
names = ["Globex"]
action = "flag"
kind = "brand"
note = "ask legal first"

[[rule]]
names = ["Nike"]
action = "block"
kind = "brand"
"""


@pytest.fixture(scope="module")
def studio_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("browser")
    (home / "policy.toml").write_text(POLICY)
    (home / "wildcards").mkdir()
    (home / "wildcards" / "shapes.txt").write_text("ball\ncube\n")
    return home


@pytest.fixture(scope="module")
def studio(studio_home):
    """The studio served over HTTP, once its default model has loaded (see the server tests'
    ``client``: a tiny model built meanwhile would get weights on the meta device)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(settings(studio_home))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while not server.started:
        assert time.time() < deadline
        time.sleep(0.05)
    deadline = time.time() + 300
    while httpx.get(f"{base}/api/health").json()["model"] in ("waiting", "loading"):
        assert time.time() < deadline
        time.sleep(0.05)
    yield base
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def page(studio):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.errors = errors
        yield page
        browser.close()


def test_ideate_promote_compare(studio, page):
    page.goto(studio)
    expect(page.locator("#ideate")).to_be_visible()
    # an absent part of the page was written out as the word "null"
    assert not re.search(r"\b(null|undefined)\b", page.inner_text("#view"))
    page.fill("input[name=prompt]", "a {red|blue} bottle on a glass table, studio lighting")
    page.fill("input[name=count]", "4")
    page.press("input[name=prompt]", "Enter")  # the keyboard submits the form
    draft_button = page.locator("#ideate button[type=submit]")
    expect(draft_button).to_be_disabled()  # no second job from a second click while it runs
    # (expect, not wait_for_function: the page's CSP forbids the eval that one uses)
    expect(page.locator("#drafts .tile")).to_have_count(4, timeout=60_000)
    expect(draft_button).to_be_enabled(timeout=30_000)
    bar = page.locator("main progress")
    assert bar.evaluate("p => p.value === p.max && p.value > 0")
    page.screenshot(path=str(ARTIFACTS / "1-ideate.png"))
    caption = page.locator("#drafts .tile .caption").first
    assert "bottle on a glass table, studio lighting" in caption.inner_text()
    # the whole prompt shows: nothing cut off with an ellipsis
    assert caption.evaluate(
        "c => c.scrollWidth <= c.clientWidth + 1 && c.scrollHeight <= c.clientHeight + 1"
    )
    assert page.locator("link[rel=icon]").get_attribute("href") == "/static/favicon.svg"
    assert httpx.get(f"{studio}/static/favicon.svg").headers["content-type"].startswith("image/svg")
    first = page.locator("#drafts .tile").first
    first.focus()
    page.keyboard.press("Enter")  # tiles are buttons: selectable from the keyboard
    assert "selected" in first.get_attribute("class")
    page.click("#promote")
    page.wait_for_selector("#figures", timeout=120_000)
    assert page.url.split("#/compare/")[1].count("/") == 1
    rows = page.locator("#figures tr").all_inner_texts()
    sharp = next(r for r in rows if r.startswith("sharpness")).split()
    assert float(sharp[2]) > float(sharp[1])  # production is measurably sharper
    assert any(r.startswith("size") and "256x256" in r for r in rows)
    assert page.inner_text("#verdict").startswith("The production is clearer")
    assert "Laplacian variance at 256x256" in page.inner_text("#verdict")  # what was compared
    # no artifact the draft lacks is held against the production render
    despite = page.inner_text("#despite")
    assert not any(a in despite for a in ("noise", "colour blotches", "specks", "compression"))
    assert page.locator("#figures td", has_text="chroma_outliers").count() == 1
    page.screenshot(path=str(ARTIFACTS / "2-compare.png"))
    assert page.errors == []


def test_library_search_and_asset_page(studio, page):
    page.goto(f"{studio}/#/library")
    page.fill("input[name=text]", "bottle")
    page.select_option("select[name=tier]", "production")
    page.click("#search button[type=submit]")
    expect(page.locator("#results .tile")).to_have_count(1, timeout=20_000)
    page.screenshot(path=str(ARTIFACTS / "3-library.png"))
    page.click("#results .tile")
    page.wait_for_selector("#provenance.ok", timeout=20_000)
    assert "Trusted" in page.inner_text("#provenance")
    page.screenshot(path=str(ARTIFACTS / "4-asset.png"))


def test_markup_in_prompts_is_inert(studio, page):
    job = httpx.post(f"{studio}/api/jobs/generate", json={"prompt": XSS, "steps": 2}).json()
    for _ in range(200):
        if httpx.get(f"{studio}/api/jobs/{job['id']}").json()["state"] == "done":
            break
        time.sleep(0.1)
    asset_id = httpx.get(f"{studio}/api/jobs/{job['id']}").json()["result"]["outputs"][0]
    page.goto(f"{studio}/#/library")
    page.wait_for_selector("#results .tile")
    assert XSS in page.inner_text("#results")  # shown as text
    page.goto(f"{studio}/#/asset/{asset_id}")
    page.wait_for_selector("pre")
    assert page.evaluate("window.__xss") is None
    assert page.locator("main img[src='x']").count() == 0
    page.screenshot(path=str(ARTIFACTS / "5-markup-inert.png"))


def test_make_extend_and_play_a_video(studio, page):
    page.goto(f"{studio}/#/video")
    page.fill(
        "#video input[name=prompt]",
        "a green ball on a glass table, the ball slides left, studio lighting",
    )
    page.select_option("#video select[name=preset]", "preview")
    page.fill("#video input[name=seconds]", "1")
    page.fill("#video input[name=steps]", "4")  # a rough clip sooner (default: the model's)
    page.click("#video button[type=submit]")
    expect(page.locator("#player")).to_be_visible(timeout=300_000)
    first = page.evaluate(PLAY, "#player")
    assert (first["width"], first["height"]) == (640, 360) and first["duration"] > 0.9, first
    page.fill("#extend input[name=seconds]", "1")
    page.fill("#extend input[name=prompt]", "the ball keeps rolling")
    page.fill("#extend input[name=steps]", "4")
    page.click("#extend button[type=submit]")
    expect(page.locator("#video-info")).not_to_contain_text(
        first["src"].split("/")[3], timeout=300_000
    )
    second = page.evaluate(PLAY, "#player")
    assert second["src"] != first["src"] and second["duration"] > first["duration"] + 0.5, (
        first,
        second,
    )
    page.screenshot(path=str(ARTIFACTS / "studio-video.png"))
    assert page.errors == []
    extended = httpx.get(f"{studio}/api/assets/{second['src'].split('/')[3]}").json()
    assert extended["record"]["operation"] == "extend"
    # the steps asked in each form reached the clip and the continuation
    made = httpx.get(f"{studio}/api/assets/{first['src'].split('/')[3]}").json()
    (then,) = [p["id"] for p in extended["parents"] if p["id"] != made["id"]]
    continued = httpx.get(f"{studio}/api/assets/{then}").json()
    assert made["record"]["steps"] == continued["record"]["steps"] == 4


def _done(studio, job_id):
    for _ in range(300):
        job = httpx.get(f"{studio}/api/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise TimeoutError(job_id)


def test_flagged_outputs_show_and_the_policy_page_reads_the_rules(studio, page):
    blocked = httpx.post(f"{studio}/api/jobs/generate", json={"prompt": "a Nike shoe"})
    assert blocked.status_code == 422 and "Nike" in blocked.json()["detail"]
    job = httpx.post(f"{studio}/api/jobs/generate", json={"prompt": "a Globex sign", "steps": 2})
    flagged_id = _done(studio, job.json()["id"])["result"]["outputs"][0]
    page.goto(f"{studio}/#/library")
    page.check("input[name=flagged]")
    page.click("#search button[type=submit]")
    expect(page.locator("#results .tile")).to_have_count(1, timeout=20_000)
    assert page.get_attribute("#results .tile", "data-id") == flagged_id
    assert "flagged by the policy" in page.inner_text("#results")
    page.screenshot(path=str(ARTIFACTS / "8-library-flagged.png"))
    page.click("#results .tile")
    expect(page.locator("main table")).to_contain_text("FLAGGED: flag Globex (ask legal first)")
    page.goto(f"{studio}/#/policy")
    page.wait_for_selector("#policy-rules")
    rules = page.inner_text("#policy-rules")
    assert "Globex" in rules and "ask legal first" in rules and "block" in rules
    assert "allowed: Acme" in page.inner_text("#policy-source")
    page.screenshot(path=str(ARTIFACTS / "9-policy.png"))
    # the jobs view names the worker that ran each job (this server's own: local)
    page.goto(f"{studio}/#/jobs")
    row = page.locator("main table tr", has_text=job.json()["id"])
    expect(row).to_contain_text("local")
    assert "worker" in page.inner_text("main table tr >> nth=0")
    page.screenshot(path=str(ARTIFACTS / "10-jobs.png"))
    assert page.errors == []


def test_an_edit_thread_in_the_studio(studio, page):
    """Change in words, undo, paint a mask and redraw it, outpaint: each a turn in the
    conversation; a change on an earlier turn is a branch."""
    job = httpx.post(
        f"{studio}/api/jobs/generate", json={"prompt": "a red jar on a marble table", "seed": 4}
    ).json()
    original = _done(studio, job["id"])["result"]["outputs"][0]
    page.goto(f"{studio}/#/asset/{original}")
    page.fill("#refine input[name=instruction]", "make it warmer")
    page.click("#refine button[type=submit]")
    expect(page.locator("#thread .turn")).to_have_count(2, timeout=60_000)
    warmer = page.locator("#thread .turn.current").get_attribute("data-id")
    assert warmer != original and "exact" in page.inner_text("#thread")
    # paint over the middle of the image with the pointer, then redraw it
    page.locator("#mask").scroll_into_view_if_needed()
    box = page.locator("#mask").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.4)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.6, steps=8)
    page.mouse.up()
    page.fill("#inpaint input[name=inpaint-prompt]", "a blue jar on a marble table")
    page.click("#inpaint button[type=submit]")
    expect(page.locator("#thread .turn")).to_have_count(3, timeout=60_000)
    painted = page.locator("#thread .turn.current").get_attribute("data-id")
    record = httpx.get(f"{studio}/api/assets/{painted}").json()["record"]
    x, y, w, h = record["edit"]["mask"]["bbox"]
    assert record["edit"]["route"] == "inpaint" and 10 < x < 32 and 10 < y < 32 and w > 8
    page.screenshot(path=str(ARTIFACTS / "6-thread.png"))
    # undo goes back a turn; a change there is a branch
    page.click("#undo")
    expect(page.locator("#thread .turn.current")).to_have_attribute("data-id", warmer)
    expect(page.locator("#branch-note")).to_be_visible()
    page.click("#outpaint button[data-aspect='9:16']")
    expect(page.locator("#thread .turn")).to_have_count(4, timeout=60_000)
    grown = page.locator("#thread .turn.current").get_attribute("data-id")
    assert httpx.get(f"{studio}/api/assets/{grown}").json()["height"] == 114
    thread = httpx.get(f"{studio}/api/assets/{grown}/thread").json()
    children = [t["asset_id"] for t in thread if t["parent"] == warmer]
    assert children == [painted, grown]  # two branches from the warmer turn
    page.screenshot(path=str(ARTIFACTS / "7-thread-branch.png"))
    assert page.errors == []


def test_a_catalogue_from_the_studio(studio, page, tmp_path):
    """Choose a product list and a packshot, run it: a progress bar per SKU, then each
    SKU's images in their aspects with the product's kept figure."""
    from ..catalogue.conftest import packshot

    (tmp_path / "products.csv").write_text(
        "sku,name,colour,prompt,packshot,scenes,aspects\n"
        'B-1,bottle,red,a {colour} {name} on a wooden table,bottle.png,1,"1:1,9:16"\n'
        'C-3,cup,green,a {colour} {name} on a glass table,,1,"16:9"\n'
    )
    packshot("bottle", "red", seed=1)[0].save(tmp_path / "bottle.png")
    page.goto(f"{studio}/#/catalogue")
    page.set_input_files("#catalogue input[name=sheet]", str(tmp_path / "products.csv"))
    page.set_input_files("#catalogue input[name=packshots]", str(tmp_path / "bottle.png"))
    page.fill("#catalogue input[name=aspects]", "1:1")
    page.click("#catalogue button[type=submit]")
    expect(page.locator("#catalogue-progress tr[data-sku='B-1']")).to_be_visible(timeout=60_000)
    expect(page.locator("#catalogue-results section.sku")).to_have_count(2, timeout=120_000)
    bottle = page.locator("#catalogue-results section[data-sku='B-1'] .tile")
    expect(bottle).to_have_count(2)  # its row's own aspects (the hero is the 1:1), not the form's
    assert "9:16" in page.inner_text("#catalogue-results section[data-sku='B-1']")
    assert "product kept" in bottle.first.inner_text()
    assert "C-3" in page.inner_text("#catalogue-results")
    assert page.locator("#catalogue-progress tr").count() == 3  # two SKUs and the whole run
    page.locator("#catalogue-results").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "8-catalogue.png"), full_page=True)
    # run again (resume): the packshot, already uploaded, is the same asset; nothing made
    page.click("#catalogue button[type=submit]")
    expect(page.locator("#catalogue-results section.sku")).to_have_count(0)
    expect(page.locator("#catalogue-results section.sku")).to_have_count(2, timeout=60_000)
    expect(page.locator("#error")).to_be_hidden()
    jobs = [j for j in httpx.get(f"{studio}/api/jobs").json() if j["kind"] == "catalogue"]
    assert len(jobs) == 2
    assert all(s["made"] == 0 for s in _done(studio, jobs[0]["id"])["result"]["skus"])
    # a request the API refuses reads as a sentence, not raw 422 JSON (issue #34)
    page.fill("#catalogue input[name=aspects]", "wide")
    page.click("#catalogue button[type=submit]")
    expect(page.locator("#error")).to_be_visible()
    said = page.inner_text("#error")
    assert said.startswith("aspects.0: String should match pattern"), said
    assert '"loc"' not in said and "[{" not in said and "422" not in said
    assert page.errors == []


def test_a_second_job_starts_its_progress_bar_afresh(studio, page):
    page.goto(studio)
    page.fill("input[name=count]", "2")
    page.click("#ideate button[type=submit]")
    expect(page.locator("#drafts .tile")).to_have_count(2, timeout=60_000)
    expect(page.locator("#ideate button[type=submit]")).to_be_enabled(timeout=30_000)
    bar = page.locator("main progress")
    assert bar.evaluate("p => p.value === p.max && p.max > 1")
    page.fill("input[name=count]", "12")
    page.click("#ideate button[type=submit]")
    assert bar.evaluate("p => p.value === 0")  # not left full from the job before
    expect(page.locator("#drafts .tile")).to_have_count(12, timeout=60_000)


def test_tag_rate_favourite_export_and_upload(studio, page, tmp_path):
    final = httpx.get(f"{studio}/api/assets", params={"tier": "production"}).json()[0]
    page.goto(f"{studio}/#/asset/{final['id']}")
    page.fill("#tag-form input[name=tag]", "hero shot")
    page.click("#tag-form button")
    expect(page.locator("#tags")).to_contain_text("hero shot")
    page.select_option("#rating", "4")
    page.click("#favourite")
    expect(page.locator("#favourite")).to_have_attribute("aria-pressed", "true")
    stored = httpx.get(f"{studio}/api/assets/{final['id']}").json()
    assert "hero shot" in stored["tags"] and stored["rating"] == 4 and stored["favourite"]
    page.locator("#tags button", has_text="×").first.click()  # remove it again
    expect(page.locator("#tags")).not_to_contain_text("hero shot")
    assert page.locator("#download").get_attribute("href") == f"/api/assets/{final['id']}/file"
    page.select_option("#export-form select", "web")
    page.click("#export-form button")
    link = page.locator("#exported a")
    expect(link).to_be_visible(timeout=30_000)
    got = httpx.get(f"{studio}{link.get_attribute('href')}")
    assert got.headers["content-type"] == "image/webp" and link.get_attribute("download")
    page.screenshot(path=str(ARTIFACTS / "8-asset-actions.png"))

    png = tmp_path / "sketch.png"
    Image.new("RGB", (96, 64), (30, 120, 200)).save(png)
    for _ in range(2):  # the second time, the same bytes: the page goes to that same asset
        page.goto(f"{studio}/#/library")
        page.set_input_files("#upload input[type=file]", str(png))
        page.click("#upload button")
        expect(page.locator("h1")).to_have_text(re.compile(r"Asset [0-9a-f]{12}"), timeout=20_000)
        uploaded = page.url.split("#/asset/")[1]
        assert httpx.get(f"{studio}/api/assets/{uploaded}").json()["kind"] == "import"
    assert page.errors == []


def test_jobs_link_their_outputs_cancel_and_refresh(studio, page):
    page.goto(f"{studio}/#/jobs")
    done = page.locator("#jobs tr", has=page.locator("td.state.done")).first
    out = done.locator("a").first
    target = out.inner_text()
    out.click()
    expect(page.locator("h1")).to_have_text(f"Asset {target}")
    page.goto(f"{studio}/#/jobs")
    slow = httpx.post(
        f"{studio}/api/jobs/generate", json={"prompt": "a red jar on a table", "count": 48}
    ).json()
    row = page.locator(f"#jobs tr[data-job='{slow['id']}']")
    expect(row).to_be_visible(timeout=10_000)  # the table refreshed itself
    row.locator("button.cancel").click()
    expect(row.locator("td.state")).to_have_text("cancelled", timeout=60_000)
    assert row.locator("button.cancel").count() == 0
    page.screenshot(path=str(ARTIFACTS / "9-jobs.png"))


def test_edit_picks_clips_from_the_library(studio, page):
    if not [a for a in httpx.get(f"{studio}/api/assets").json() if a["mime"].startswith("video/")]:
        job = httpx.post(
            f"{studio}/api/jobs/video",
            json={"prompt": "a red ball slides right", "preset": "preview", "seconds": 1},
        ).json()
        assert _done(studio, job["id"])["state"] == "done"
    page.goto(f"{studio}/#/edit")
    expect(page.locator("#clips .tile").first).to_be_visible(timeout=20_000)
    page.select_option("#edit select[name=op]", "speed")
    assert page.locator("#edit input[name=start]").is_hidden()
    page.select_option("#edit select[name=factor]", "2")
    source = page.locator("#clips .tile").first.get_attribute("data-id")
    page.locator("#clips .tile").first.click()
    expect(page.locator("#chosen")).to_contain_text(source)
    page.click("#edit button[type=submit]")
    expect(page.locator("#edit-result .tile")).to_be_visible(timeout=300_000)
    made = page.locator("#edit-result .tile").get_attribute("data-id")
    record = httpx.get(f"{studio}/api/assets/{made}").json()["record"]
    assert record["operation"] == "speed" and record["parameters"]["factor"] == 2
    # the form starts afresh: nothing chosen, and the next operation shows its own fields
    expect(page.locator("#chosen")).to_contain_text("Pick a clip")
    page.select_option("#edit select[name=op]", "reframe")
    assert page.locator("#edit select[name=factor]").is_hidden()
    page.select_option("#edit select[name=aspect]", "9:16")
    page.locator(f"#clips .tile[data-id='{made}']").click()  # the new clip is in the picker
    page.click("#edit button[type=submit]")
    expect(page.locator("#edit-result .tile")).not_to_have_attribute(
        "data-id", made, timeout=300_000
    )
    framed = page.locator("#edit-result .tile").get_attribute("data-id")
    shown = httpx.get(f"{studio}/api/assets/{framed}").json()
    assert shown["height"] > shown["width"] and shown["record"]["parameters"]["aspect"] == "9:16"
    # a grade in words, as an image is refined: exact, on every frame
    page.select_option("#edit select[name=op]", "grade")
    assert page.locator("#edit select[name=aspect]").is_hidden()
    page.fill("#edit input[name=instruction]", "a touch warmer, please")
    page.locator(f"#clips .tile[data-id='{framed}']").click()
    page.click("#edit button[type=submit]")
    expect(page.locator("#edit-result .tile")).not_to_have_attribute(
        "data-id", framed, timeout=300_000
    )
    graded = page.locator("#edit-result .tile").get_attribute("data-id")
    said = httpx.get(f"{studio}/api/assets/{graded}").json()["record"]["parameters"]
    assert said["adjustments"] == [{"kind": "warmth", "amount": 0.5}]
    page.screenshot(path=str(ARTIFACTS / "10-edit.png"))
    assert page.errors == []


def test_more_like_an_image_drafts_with_its_settings(studio, page):
    """ "More like this" on an asset page: Ideate drafts with the image's settings (what the
    form does not show is listed), its prompt and seed in the form; an A1111 image's notes
    (what could not be carried) are shown; the words a model did not read are on the page."""
    from ..media.test_metadata import _a1111_file

    long = "a red bottle on a glass table" + ", soft studio light" * 8
    body = {"prompt": long, "negative_prompt": "blurry", "seed": 31, "steps": 2}
    made = _done(studio, httpx.post(f"{studio}/api/jobs/generate", json=body).json()["id"])
    source = made["result"]["outputs"][0]
    page.goto(f"{studio}/#/asset/{source}")
    expect(page.locator("table")).to_contain_text("not read")  # past the 32-token window
    page.click("#more-like")
    expect(page.locator("#like")).to_contain_text('negative "blurry"')
    assert page.input_value("#ideate input[name=prompt]") == long
    assert page.input_value("#ideate input[name=seed]") == "31"
    page.fill("#ideate input[name=prompt]", "a green bottle on a glass table")
    page.fill("#ideate input[name=count]", "2")
    page.click("#ideate button[type=submit]")
    expect(page.locator("#drafts .tile")).to_have_count(2, timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "13-more-like.png"))
    drafted = page.locator("#drafts .tile .caption-id").all_inner_texts()
    records = [httpx.get(f"{studio}/api/assets/{i}").json()["record"] for i in drafted]
    assert sorted(r["seed"] for r in records) == [31, 32]
    assert {(r["negative_prompt"], r["steps"], r["tier"]) for r in records} == {
        ("blurry", 2, "draft")
    }

    up = httpx.post(
        f"{studio}/api/uploads", files={"file": ("a.png", _a1111_file("png").getvalue())}
    )
    page.goto(f"{studio}/#/asset/{up.json()['id']}")
    page.click("#more-like")
    expect(page.locator("#like")).to_contain_text("note: model 'v1-5-pruned-emaonly' is not in")
    expect(page.locator("#like")).to_contain_text("512x768 · 20 steps · guidance 7 · dpm++-karras")
    assert page.input_value("#ideate input[name=seed]") == "1234567890"
    assert page.errors == []


def test_ideate_drafts_a_wildcard_files_lines(studio, page):
    """A ``__name__`` wildcard makes variations in Ideate as ``{a|b}`` does (it went to the
    server as one literal prompt, drawn with the word "__shapes__")."""
    page.goto(studio)
    page.fill("#ideate input[name=prompt]", "a red __shapes__ on a table")
    page.fill("#ideate input[name=count]", "2")
    page.click("#ideate button[type=submit]")
    expect(page.locator("#drafts .tile")).to_have_count(2, timeout=60_000)
    captions = page.locator("#drafts .tile .caption").all_inner_texts()
    assert captions == ["a red ball on a table", "a red cube on a table"]
    assert page.errors == []


def test_ideate_drafts_on_a_model_of_the_models_folder_with_its_settings(
    studio, studio_home, page, tiny_sd, tiny_sd_adapters
):
    """Ideate's "Model and settings": a model, negative prompt, size, steps, guidance,
    sampler, Clip skip, a LoRA and a style, picked from what the server has; the draft is made
    with each (before, Ideate drafted on the default model only). "More like this" fills the
    same fields from the image."""
    import shutil

    models = studio_home / "models"
    shutil.copytree(tiny_sd, models / "tiny-sd")
    (models / "loras").mkdir(parents=True)
    shutil.copy(tiny_sd_adapters["lora"], models / "loras" / "style.safetensors")
    (studio_home / "styles.csv").write_text(
        "name,prompt,negative_prompt\nstill,a still of {prompt},grainy\n"
    )
    page.goto(studio)
    page.click("#settings summary")
    page.select_option("#ideate select[name=model]", "tiny-sd")
    page.fill("#ideate input[name=negative_prompt]", "blurry")
    for name, value in (("width", "32"), ("height", "32"), ("steps", "2"), ("guidance", "6")):
        page.fill(f"#ideate input[name={name}]", value)
    page.select_option("#ideate select[name=scheduler]", "euler")
    page.fill("#ideate input[name=clip_skip]", "2")
    page.click("text=+ LoRA")
    page.select_option("#ideate select[name=lora]", "style.safetensors")
    page.fill("#ideate input[name=lora_weight]", "0.7")
    page.check("#ideate input[name=style][value=still]")
    page.fill("#ideate input[name=prompt]", "a red jar")
    page.fill("#ideate input[name=count]", "1")
    page.fill("#ideate input[name=seed]", "7")
    page.screenshot(path=str(ARTIFACTS / "15-ideate-settings.png"))
    page.click("#ideate button[type=submit]")
    expect(page.locator("#drafts .tile")).to_have_count(1, timeout=60_000)
    made = page.locator("#drafts .tile .caption-id").inner_text().split()[0]
    record = httpx.get(f"{studio}/api/assets/{made}").json()["record"]
    assert record["prompt"] == "a still of a red jar"
    assert record["negative_prompt"] == "blurry, grainy"
    assert Path(record["model"]).name == "tiny-sd" and record["family"] == "sd15"
    assert (record["width"], record["height"], record["steps"], record["guidance"]) == (
        32,
        32,
        2,
        6,
    )
    assert record["scheduler"] == "euler" and record["clip_skip"] == 2 and record["seed"] == 7
    assert [(Path(a["path"]).name, a["weight"]) for a in record["adapters"]] == [
        ("style.safetensors", 0.7)
    ]

    page.goto(f"{studio}/#/like/{made}")
    expect(page.locator("#settings")).to_have_attribute("open", "")
    assert page.input_value("#ideate select[name=model]") == "tiny-sd"
    assert page.input_value("#ideate select[name=lora]") == "style.safetensors"
    assert page.input_value("#ideate input[name=lora_weight]") == "0.7"
    assert page.input_value("#ideate input[name=clip_skip]") == "2"
    assert page.input_value("#ideate input[name=negative_prompt]") == "blurry, grainy"
    page.click("#ideate .lora button")  # no LoRA this time: the draft is made without one
    page.fill("#ideate input[name=count]", "1")
    page.click("#ideate button[type=submit]")
    expect(page.locator("#drafts .tile")).to_have_count(1, timeout=60_000)
    again = page.locator("#drafts .tile .caption-id").inner_text().split()[0]
    record = httpx.get(f"{studio}/api/assets/{again}").json()["record"]
    assert again != made and not record.get("adapters") and record["clip_skip"] == 2
    assert Path(record["model"]).name == "tiny-sd"

    # an A1111 image naming the model and its LoRA as A1111 does (a tag in the prompt): both
    # kept, both used
    info = PngInfo()
    info.add_text(
        "parameters",
        "a jar <lora:style:0.6>\nNegative prompt: \nSteps: 2, Sampler: Euler, CFG scale: 6, "
        "Seed: 9, Size: 32x32, Model: tiny-sd",
    )
    png = io.BytesIO()
    Image.new("RGB", (32, 32), (90, 60, 30)).save(png, "PNG", pnginfo=info)
    a1111 = httpx.post(f"{studio}/api/uploads", files={"file": ("a.png", png.getvalue())})
    page.goto(f"{studio}/#/like/{a1111.json()['id']}")
    expect(page.locator("#like a").first).to_have_text(a1111.json()["id"])  # the new page
    expect(page.locator("#ideate select[name=model]")).to_have_value("tiny-sd")
    assert page.input_value("#ideate input[name=prompt]") == "a jar <lora:style:0.6>"
    page.fill("#ideate input[name=count]", "1")
    page.click("#ideate button[type=submit]")
    expect(page.locator("#drafts .tile")).to_have_count(1, timeout=60_000)
    drawn = page.locator("#drafts .tile .caption-id").inner_text().split()[0]
    record = httpx.get(f"{studio}/api/assets/{drawn}").json()["record"]
    assert record["model"] == "tiny-sd" and record["seed"] == 9
    assert [(Path(a["path"]).name, a["weight"]) for a in record["adapters"]] == [
        ("style.safetensors", 0.6)
    ]

    # the library finds what it made by the model's name
    page.goto(f"{studio}/#/library")
    page.fill("#search input[name=model]", "tiny-sd")
    page.click("#search button[type=submit]")
    expect(page.locator("#results .tile")).to_have_count(3)
    ids = {t.split()[0] for t in page.locator("#results .tile .caption-id").all_inner_texts()}
    assert ids == {made, again, drawn}

    # a catalogue on it
    (studio_home / "jars.csv").write_text("sku,name\nJ-1,jar\n")
    page.goto(f"{studio}/#/catalogue")
    page.set_input_files("#catalogue input[name=sheet]", str(studio_home / "jars.csv"))
    page.fill("#catalogue input[name=scenes]", "1")
    page.fill("#catalogue input[name=aspects]", "1:1")
    page.select_option("#catalogue select[name=model]", "tiny-sd")
    page.click("#catalogue button[type=submit]")
    expect(page.locator("#catalogue-results section.sku")).to_have_count(1, timeout=120_000)
    (hero,) = page.locator("#catalogue-results .tile").all()
    shown = hero.get_attribute("href").split("/")[-1]
    record = httpx.get(f"{studio}/api/assets/{shown}").json()["record"]
    assert Path(record["model"]).name == "tiny-sd", record
    assert page.errors == []


def test_a_clip_on_a_video_model_of_the_models_folder(studio, studio_home, page):
    """The Video view picks the model (the models folder's video models, as /api/models
    lists them): it made every clip on the default video model. The folder here holds only
    an LTX pipeline's index (a clip on a tiny LTX at the preview preset's 640x360 takes two
    minutes here; the engine's tests make them at a small size), so the job fails, and the
    page says why."""
    folder = studio_home / "models" / "half-copied-ltx"
    folder.mkdir(parents=True)
    index = {
        "_class_name": "LTXPipeline",
        "transformer": ["diffusers", "LTXVideoTransformer3DModel"],
    }
    (folder / "model_index.json").write_text(json.dumps(index))
    page.goto(f"{studio}/#/video")
    options = page.locator("#video select[name=model] option")
    expect(options).to_have_text(["default (builtin)", "half-copied-ltx"])
    page.fill("#video input[name=prompt]", "a red jar turns")
    page.select_option("#video select[name=model]", "half-copied-ltx")
    page.click("#video button[type=submit]")
    expect(page.locator("#error")).to_contain_text("job failed", timeout=60_000)
    (job,) = [
        j
        for j in httpx.get(f"{studio}/api/jobs").json()
        if j["request"].get("prompt") == "a red jar turns"
    ]
    assert job["request"]["model"] == "half-copied-ltx" and job["state"] == "failed"
    assert "half-copied-ltx" in job["error"]
    assert page.errors == []
