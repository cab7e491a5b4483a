"""Cross-site requests, DNS rebinding, traversal, auth: refused or inert."""

import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cinedraft.cli.main import app as cli
from cinedraft.server import create_app

from tests.hf_cache import hf_cache_layout

from .conftest import HOST, settings

BODY = {"prompt": "a red jar", "steps": 1}
TRAVERSAL = [
    "..%2F..%2Fetc%2Fpasswd",
    "....//....//etc/passwd",
    "%2e%2e%2f%2e%2e%2fetc",
    "0123456789ab%00",
    "..\\..\\windows",
    "0123456789abc",
    "%252e%252e%252f",
]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://testserver.evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
def test_cross_origin_writes_are_refused(quiet, headers):
    response = quiet.post("/api/jobs/generate", json=BODY, headers=headers)
    assert response.status_code == 403 and "refused" in response.json()["detail"]
    assert quiet.get("/api/jobs").json() == []  # nothing was queued


def test_same_origin_and_non_browser_writes_pass(quiet):
    assert (
        quiet.post(
            "/api/jobs/generate", json=BODY, headers={"Origin": "http://testserver"}
        ).status_code
        == 202
    )
    assert quiet.post("/api/jobs/generate", json=BODY).status_code == 202  # curl, scripts


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:7860", "127.0.0.1.nip.io", "localhost.evil"]
)
def test_foreign_host_header_is_refused_on_every_route(quiet, host):
    for method, path in (("GET", "/"), ("GET", "/api/assets"), ("POST", "/api/jobs/generate")):
        response = quiet.request(method, path, headers={"Host": host}, json=BODY)
        assert response.status_code == 400, (host, path)


@pytest.mark.parametrize("payload", TRAVERSAL)
def test_traversal_in_path_parameters(quiet, payload):
    for path in (
        f"/api/assets/{payload}",
        f"/api/assets/{payload}/file",
        f"/api/assets/{payload}/verify",
        f"/api/jobs/{payload}",
        f"/static/{payload}",
    ):
        response = quiet.get(path)
        assert response.status_code in (404, 422), (path, response.status_code)
        assert b"root:" not in response.content


def test_security_headers_everywhere(quiet):
    for path in ("/", "/api/health", "/static/app.js", "/api/assets/zzz"):
        headers = quiet.get(path).headers
        assert headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"


def test_token_auth_on_every_route(tmp_path):
    token = "s3cret-token-of-some-length"
    with TestClient(create_app(settings(tmp_path), token=token, hosts={HOST}, workers=False)) as c:
        for path in ("/", "/api/assets", "/api/health", "/openapi.json", "/static/app.js"):
            assert c.get(path).status_code == 401, path
        assert c.get("/api/health", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert c.get("/api/health", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.post("/login", data={"token": "wrong"}).status_code == 401
        login = c.post("/login", data={"token": token}, follow_redirects=False)
        assert login.status_code == 303 and "httponly" in login.headers["set-cookie"].lower()
        assert "samesite=strict" in login.headers["set-cookie"].lower()
        assert c.get("/api/health").status_code == 200  # the session cookie now


def test_serve_refuses_a_public_address_without_a_token(tmp_path):
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "without a token" in result.output
    result = CliRunner().invoke(
        cli, ["--home", str(tmp_path), "serve", "--host", "0.0.0.0", "--token", "short"]
    )
    assert result.exit_code == 2 and "16 characters" in result.output


def test_full_queue_answers_429(tmp_path):
    with TestClient(create_app(settings(tmp_path), hosts={HOST}, workers=False, max_queued=2)) as c:
        assert [c.post("/api/jobs/generate", json=BODY).status_code for _ in range(3)] == [
            202,
            202,
            429,
        ]
        assert c.post("/api/jobs/generate", json=BODY).headers["retry-after"] == "5"


TOKEN = "correct-horse-battery-staple"


@pytest.fixture
def guarded(tmp_path):
    with TestClient(
        create_app(
            settings(tmp_path),
            token=TOKEN,
            hosts={HOST, "studio.lan"},
            workers=False,
            secure_cookie=True,
        )
    ) as c:
        yield c


@pytest.mark.parametrize("value", ["ééé", "Bearer ééé", f"Bearer {TOKEN}é", "Bearer \x7f"])
def test_a_non_ascii_token_is_refused_not_a_crash(guarded, value):
    response = guarded.get("/api/assets", headers={"Authorization": value.encode("utf-8")})
    assert response.status_code == 401


def test_a_non_ascii_login_is_refused_not_a_crash(guarded):
    assert guarded.post("/login", data={"token": "ééé"}, follow_redirects=False).status_code == 401


def test_login_is_rate_limited_per_client(guarded):
    for _ in range(10):
        assert (
            guarded.post("/login", data={"token": "wrong"}, follow_redirects=False).status_code
            == 401
        )
    refused = guarded.post("/login", data={"token": TOKEN}, follow_redirects=False)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    # bearer guesses count against the same limit
    assert (
        guarded.get("/api/assets", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 429
    )


def test_the_session_cookie_expires_and_is_secure_off_loopback(guarded):
    response = guarded.post("/login", data={"token": TOKEN}, follow_redirects=False)
    cookie = response.headers["set-cookie"].lower()
    assert response.status_code == 303
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" in cookie
    assert "max-age=43200" in cookie


@pytest.mark.parametrize("host", ["studio.lan", "studio.lan:7860", "localhost:7860", "[::1]:80"])
def test_allowed_hosts_pass(guarded, host):
    response = guarded.get(
        "/api/health", headers={"Host": host, "Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 200, host


@pytest.mark.parametrize(
    "host",
    [
        "studio.lan:7860junk",
        "localhost:80:80",
        "localhost:99999",
        "studio.lan:",
        "stu dio.lan",
        "localhost/x",
        "",
    ],
)
def test_a_host_with_junk_is_refused(guarded, host):
    response = guarded.get(
        "/api/health", headers={"Host": host, "Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 400, host


def test_with_a_token_the_machines_own_address_is_accepted(tmp_path):
    """Bound to every address with a token, a client that names the address it connects to
    (127.0.0.2 here: another of this machine's addresses) gets in; a foreign name does not."""
    import httpx

    from .conftest import free_port, start_server

    port = free_port()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    proc = start_server(tmp_path, port, "--token", TOKEN, host="0.0.0.0", headers=auth)
    try:
        assert httpx.get(f"http://127.0.0.2:{port}/api/health", headers=auth).status_code == 200
        assert httpx.get(f"http://127.0.0.2:{port}/api/health").status_code == 401
        foreign = httpx.get(
            f"http://127.0.0.2:{port}/api/health", headers=auth | {"Host": "10.9.8.7"}
        )
        assert foreign.status_code == 400
    finally:
        proc.kill()
        proc.wait()


def test_an_idempotency_key_reused_for_another_request_is_refused(quiet):
    first = quiet.post("/api/jobs/generate", json=BODY, headers={"Idempotency-Key": "k-1"})
    again = quiet.post("/api/jobs/generate", json=BODY, headers={"Idempotency-Key": "k-1"})
    other = quiet.post(
        "/api/jobs/generate",
        json=BODY | {"prompt": "a blue jar"},
        headers={"Idempotency-Key": "k-1"},
    )
    assert (
        first.status_code == again.status_code == 202 and first.json()["id"] == again.json()["id"]
    )
    assert other.status_code == 422 and "another request" in other.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"loras": [{"ref": "/etc/passwd"}]},
        {"loras": [{"ref": "../loras/x"}]},
        {"embeddings": ["/home/someone/secret.safetensors"]},
        {"vae": "/srv/models/vae"},
    ],
)
def test_the_api_takes_adapter_names_not_paths(quiet, body):
    """A LoRA, embedding or VAE comes from the models folder by name; a path on the server's
    disk is refused before a job exists (the job would read and hash it)."""
    response = quiet.post("/api/jobs/generate", json={"prompt": "a jar"} | body)
    assert response.status_code == 422 and "not a path" in response.text


CHECK_WITHOUT_TORCH = """
import sys, tempfile
from pathlib import Path
from fastapi.testclient import TestClient
from cinedraft import Settings
from cinedraft.server import create_app
settings = Settings(home=Path(tempfile.mkdtemp()), offline=True, device="cpu")
with TestClient(create_app(settings, hosts={"testserver"}, workers=False)) as client:
    body = {"prompt": "a jar", "loras": [{"ref": "inkwash"}]}
    print(client.post("/api/jobs/generate", json=body).status_code)
    body = {"prompt": "a jar", "model": "someone/absent"}
    print(client.post("/api/jobs/generate", json=body).status_code)
    print(client.get("/api/models").status_code)
print("torch" in sys.modules)
"""


def test_checking_an_adapter_name_imports_no_torch_on_a_request_thread():
    """The name check imported the engine (torch, diffusers) on the request's thread while
    the server's background model load was importing them too: the two waited on each
    other's import locks and the server stopped answering (benches/bench_server.py hung).
    The model name check and the models' list import none either."""
    run = subprocess.run(
        [sys.executable, "-c", CHECK_WITHOUT_TORCH], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["422", "422", "200", "False"]


def test_an_adapter_name_must_be_in_the_models_folder(quiet, tmp_path, monkeypatch):
    """A name the models folder does not hold was queued, and the job took it as a path: a
    file of that name in the server's working folder would have been loaded."""
    (tmp_path / "stray.safetensors").write_bytes(b"{}")
    monkeypatch.chdir(tmp_path)
    body = {"prompt": "a jar", "loras": [{"ref": "stray.safetensors"}]}
    response = quiet.post("/api/jobs/generate", json=body)
    assert response.status_code == 422 and "no LoRA named 'stray.safetensors'" in response.text
    response = quiet.post("/api/jobs/generate", json={"prompt": "a jar", "vae": "stray"})
    assert response.status_code == 422 and "no VAE named 'stray'" in response.text


@pytest.mark.parametrize("model", ["/etc", "../models/x", "~/models/x", "a/b/c", "x\\y", "a--b/c"])
@pytest.mark.parametrize("route", ["generate", "video", "catalogue"])
def test_the_api_takes_model_names_not_paths(quiet, route, model):
    """A model comes from the models folder by name, or is built in or a hub id: a path on
    the server's disk was queued, and the job loaded whatever folder it named."""
    body = {"sheet": "sku,name\nA1,jar\n"} if route == "catalogue" else {"prompt": "a jar"}
    response = quiet.post(f"/api/jobs/{route}", json=body | {"model": model})
    assert response.status_code == 422 and "not a path" in response.text


def test_a_model_name_is_the_models_folders_or_a_hub_id_in_the_cache(quiet, tmp_path, monkeypatch):
    """A name the models folder holds, a built-in model and a hub id in the HF cache queue;
    a hub id that is a folder in the server's working folder, or (offline) not in the cache,
    is refused before a job exists."""
    models = quiet.app.state.workspace.settings.models_root
    (models / "mine").mkdir(parents=True, exist_ok=True)
    pipeline = tmp_path / "pipeline"
    pipeline.mkdir()
    (pipeline / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    hf_cache_layout(tmp_path / "hf-cache", "someone/cached", pipeline)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "someone" / "local").mkdir(parents=True)

    def submit(model: str):
        return quiet.post("/api/jobs/generate", json={"prompt": "a jar", "model": model})

    for model in ("mine", "builtin", "someone/cached"):
        assert submit(model).status_code == 202, model
    response = submit("someone/local")
    assert response.status_code == 422 and "a path in the server's working folder" in response.text
    response = submit("someone/absent")
    assert response.status_code == 422 and "nor in the HF cache (offline)" in response.text
    response = submit("absent")
    assert response.status_code == 422 and "no model named 'absent'" in response.text


def test_a_sampler_or_a_parent_that_cannot_be_is_refused_before_a_job_exists(quiet):
    """An unknown sampler and a parent that is not an image of this library were queued and
    failed in the job (a parent is a path nowhere: it is an asset id)."""

    def submit(**fields):
        return quiet.post("/api/jobs/generate", json={"prompt": "a jar"} | fields)

    response = submit(scheduler="warp")
    assert response.status_code == 422 and "unknown scheduler 'warp'" in response.text
    response = submit(parent="../../etc/passwd")
    assert response.status_code == 422 and "parent must be an asset id" in response.text
    assert submit(parent="f" * 12).status_code == 404
    assert submit(scheduler="own").status_code == submit(scheduler="euler-a").status_code == 202


def test_an_asset_id_is_never_read_as_a_file_of_that_name(quiet, tmp_path, monkeypatch):
    """The library's ``resolve`` takes a file before an id of the same name (the CLI's
    way); routes that took an id through it read a file named like the id from the
    server's folder and imported it."""
    import io

    from PIL import Image

    monkeypatch.chdir(tmp_path)
    png = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(png, "PNG")
    (tmp_path / "0123456789ab").write_bytes(png.getvalue())
    count = len(quiet.get("/api/assets").json())
    assert quiet.get("/api/assets/0123456789ab/like").status_code == 404
    video = quiet.post("/api/jobs/video", json={"prompt": "a jar", "image": "0123456789ab"})
    assert video.status_code == 404, video.text
    assert len(quiet.get("/api/assets").json()) == count  # nothing was imported
