"""The usage policy and the audit trail around every generation.

Before a request runs, its prompt (every expansion of a template) is checked against the
team's policy: a ``block`` hit refuses it and writes an audit entry saying so; a ``flag`` hit
runs, and its outputs' records say what was hit. After outputs are stored, one audit entry
names them, the actor, the model and its hash, the policy's hits and whether the files were
marked. The policy is read on first use and never skipped: a file that cannot be read
refuses every request until it is fixed.
"""

from __future__ import annotations

import contextlib
import contextvars
import getpass
import hashlib
import os
import time
from datetime import datetime, timedelta, timezone
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from ..ids import utc_now
from ..library import Library
from ..library.audit import AuditEntry
from ..policy import OFF, Policy, Verdict, load_policy


class Guard:
    """A workspace's policy and audit trail. Entries name ``actor`` (the OS user by default),
    or whoever :meth:`acting_as` names for the work in hand (the server's token name).
    Without a ``library`` (a cluster worker) nothing is audited here: the head that leased
    the work checked the same policy first and audits what it stores."""

    def __init__(
        self,
        policy_file: Path | None,
        library: Library | None,
        actor: str | None = None,
        retention_days: int | None = None,
        wildcards: Path | None = None,
    ):
        self.policy_file = policy_file
        self.wildcards = wildcards  # where a template's wildcard files are
        self.library = library
        self.retention_days = retention_days
        self._pruned_at = 0.0  # time.monotonic() of the last retention pass
        self._default_actor = actor or _os_user()
        self._actor: contextvars.ContextVar[str | None] = contextvars.ContextVar(
            "actor", default=None
        )
        self._policy: Policy | None = None

    @property
    def actor(self) -> str:
        return self._actor.get() or self._default_actor

    @contextlib.contextmanager
    def acting_as(self, actor: str | None) -> Iterator[None]:
        """Entries written inside name ``actor`` (this thread's work only)."""
        token = self._actor.set(actor)
        try:
            yield
        finally:
            self._actor.reset(token)

    @property
    def policy(self) -> Policy:
        """The policy, read once; a PolicyFileError each time while it cannot be read."""
        if self._policy is None:
            self._policy = load_policy(self.policy_file) if self.policy_file else OFF
        return self._policy

    def check(
        self,
        action: str,
        prompt: str,
        request: BaseModel,
        template: bool = False,
        expanded: list[str] | None = None,
    ) -> Verdict:
        """The policy's verdict on a request; a block is audited, then refused. A template's
        prompts are made here, unless the caller has them (``expanded``)."""
        policy = self.policy
        if expanded is not None:
            verdict = policy.check(expanded)
        else:
            verdict = policy.check_request(prompt, template, self.wildcards)
        if verdict.blocked:
            self.record(f"refused {action}", request, [h.to_dict() for h in verdict.hits])
            policy.refuse_if_blocked(verdict)
        return verdict

    def faces(self, policy: dict | None, images: list) -> dict | None:
        """``policy`` (an output's record of hits) with what the face check found, when the
        policy flags faces: ``faces`` (how many) and a flag hit if any; unchanged otherwise."""
        if not self.policy.flag_faces:
            return policy
        from ..quality.faces import find_faces

        found = sum(len(find_faces(image)) for image in images)
        hits = list((policy or {}).get("hits", []))
        if found:
            note = f"{found} face(s) found in the output"
            hits.append({"name": "a face", "action": "flag", "kind": "person", "note": note})
        return {"flagged": any(h["action"] == "flag" for h in hits), "hits": hits, "faces": found}

    def record(
        self,
        action: str,
        request: BaseModel | None,
        hits: list[dict],
        assets: list[str] | None = None,
        model: str | None = None,
        model_hash: str | None = None,
    ) -> int | None:
        """Append an audit entry (``hits``: the policy's, as records hold them); its
        sequence number (None without a library). Retention prunes old entries first, at
        most once an hour."""
        if self.library is None:
            return None
        if self.retention_days and (
            not self._pruned_at or time.monotonic() - self._pruned_at > 3600
        ):
            cutoff = datetime.now(timezone.utc) - timedelta(days=self.retention_days)
            self.library.audit_prune(cutoff.strftime("%Y-%m-%dT%H:%M:%SZ"))
            self._pruned_at = time.monotonic()
        flagged = any(h["action"] == "flag" for h in hits)
        return self.library.audit(
            AuditEntry(
                at=utc_now(),
                actor=self.actor,
                action=action,
                assets=assets or [],
                request_hash=request_hash(request),
                model=model,
                model_hash=model_hash,
                policy={"flagged": flagged, "hits": hits} if hits else None,
                flagged=flagged,
                marked=bool(assets) and self.library.provenance,
            )
        )


def _os_user() -> str:
    """Who runs this process, as the OS names them (a container's bare uid has no name)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid {os.getuid()}"


def request_hash(request: BaseModel | None) -> str | None:
    """SHA-256 of a request as JSON: the same request always hashes the same."""
    if request is None:
        return None
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()
