"""The usage policy and the audit trail in the studio: a blocked prompt is a 422 naming the
rule before anything is queued, and every job and audit entry names the token's holder."""

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cinedraft.cli.main import app as cli
from cinedraft.server import create_app

from .conftest import HOST, settings

POLICY = '[[rule]]\nnames = ["Nike"]\naction = "block"\nkind = "brand"\n'
ALICE, BOB = "alice-secret-0123456789", "bob-secret-0123456789ab"


def test_named_tokens_are_the_actors_and_blocks_are_refused_before_the_queue(tmp_path):
    (tmp_path / "policy.toml").write_text(POLICY)
    tokens = {"alice": ALICE, "bob": BOB}
    app = create_app(settings(tmp_path), token=tokens, hosts={HOST})
    with TestClient(app) as c:
        as_alice = {"Authorization": f"Bearer {ALICE}"}
        refused = c.post("/api/jobs/generate", json={"prompt": "a Nike shoe"}, headers=as_alice)
        assert refused.status_code == 422 and "'Nike'" in refused.json()["detail"]
        assert c.get("/api/jobs", headers=as_alice).json() == []  # nothing queued
        body = {"prompt": "a red jar", "steps": 1}
        job = c.post("/api/jobs/generate", json=body, headers=as_alice).json()
        assert job["actor"] == "alice"
        login = c.post("/login", data={"token": BOB}, follow_redirects=False)
        assert login.status_code == 303
        video = c.post("/api/jobs/video", json={"prompt": "a Nike logo turning"})  # bob's cookie
        assert video.status_code == 422
        assert _wait(c, job["id"], as_alice)["state"] == "done"
    entries = app.state.library.audit_entries()  # the worker's entry may come before bob's
    assert sorted((e["actor"], e["action"]) for e in entries) == [
        ("alice", "generate"),
        ("alice", "refused generate"),
        ("bob", "refused video"),
    ]
    assert app.state.library.audit_verify()[1] == []


def _wait(client, job_id, headers):
    import time

    deadline = time.time() + 120
    while time.time() < deadline:
        job = client.get(f"/api/jobs/{job_id}", headers=headers).json()
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    raise TimeoutError(job_id)


def test_serve_takes_named_tokens_and_refuses_a_short_or_repeated_one(tmp_path):
    def serve(*tokens):
        args = ["--home", str(tmp_path), "serve", "--host", "0.0.0.0"]
        for token in tokens:
            args += ["--token", token]
        return CliRunner().invoke(cli, args)

    short = serve(f"alice={ALICE}", "bob=short")
    assert short.exit_code == 2 and "'bob' must be at least 16" in short.output
    twice = serve(f"alice={ALICE}", f"alice={BOB}")
    assert twice.exit_code == 2 and "two tokens are named 'alice'" in twice.output
