"""C2PA content credentials: sign outputs, read and validate them (c2pa-python).

Every output gets a manifest that says it was made by a trained algorithm (IPTC digital
source type ``trainedAlgorithmicMedia``), names the model and the generator (cinedraft), and,
for promotions, re-renders, conversions and edits, lists the source assets as ingredients
(the ingredient's own manifest is carried along, so the chain can be walked).

Reading tells integrity from trust: ``Trusted`` (intact, signed by this library's CA or one
it was told to trust), ``Valid`` (intact, but the signer is unknown here: another library,
another tool), ``Invalid`` (a hash or signature does not match, or the manifest is damaged).
An unknown signer is not tampering. A damaged manifest is reported, never raised.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import c2pa

from .._version import __version__
from .credentials import Credentials

AI_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
GENERATION_LABEL = "dev.cinedraft.generation"
UNVERIFIED_LABEL = "dev.cinedraft.unverified_ingredients"
# Validation codes that say who signed is not trusted here: the content itself is intact.
TRUST_CODES = ("signingCredential.untrusted",)
# The default thumbnail would make small files several times larger.
_SETTINGS = {"builder": {"thumbnail": {"enabled": False}}}


@dataclass
class Ingredient:
    """A source asset: its bytes go into the manifest as a hashed ingredient."""

    asset_id: str
    data: bytes
    mime: str
    relationship: str = "parentOf"  # parentOf (promote, rerender, convert) | componentOf (edit)


@dataclass
class Manifest:
    """What ``verify`` reports about a file's C2PA manifest."""

    present: bool
    state: str = "absent"  # absent | Trusted | Valid (intact, unknown signer) | Invalid
    signer: str | None = None
    issuer: str | None = None
    generator: str | None = None
    ai_generated: bool = False
    model: str | None = None
    asset_id: str | None = None
    policy: dict | None = None  # the usage policy's hits and face check, as signed
    catalogue: dict | None = None  # a catalogue output's SKU row, brand kit and step, as signed
    actions: list[str] = field(default_factory=list)
    ingredients: list[dict] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    trust_notes: list[str] = field(default_factory=list)  # why a Valid signer is not trusted

    @property
    def tampered(self) -> bool:
        return self.state == "Invalid"

    @property
    def trusted(self) -> bool:
        return self.state == "Trusted"


class Signer:
    """Signs bytes with the library's credentials; one per library, reused for every file."""

    def __init__(self, credentials: Credentials):
        self._info = c2pa.C2paSignerInfo(
            c2pa.C2paSigningAlg.ES256, credentials.chain_pem, credentials.key_pem, None
        )
        self._signer = c2pa.Signer.from_info(self._info)
        self._context = c2pa.Context.from_dict(_SETTINGS)

    def sign(self, data: bytes, mime: str, record: dict, ingredients: list[Ingredient]) -> bytes:
        """``data`` with a signed manifest embedded.

        A source whose own manifest is damaged cannot be a C2PA ingredient (the SDK refuses
        it when it is added, or when the claim is signed); it is named, with its SHA-256 and
        the reason, in an :data:`UNVERIFIED_LABEL` assertion instead, so the new file still
        says where it came from and that the source's history could not be checked.
        """
        unverified: list[dict] = []
        while True:
            left = {u["asset_id"] for u in unverified}
            usable = [i for i in ingredients if i.asset_id not in left]
            try:
                return self._sign_with(data, mime, record, usable, unverified)
            except _DamagedIngredient as exc:
                unverified.append(exc.entry)
            except c2pa.C2paError as exc:
                if not usable:
                    raise
                # Which ones? Each alone; if none fails alone, all of them together did.
                culprits = [
                    i for i in usable if not self._signs_alone(data, mime, record, i)
                ] or usable
                unverified += [
                    _unverified(i, f"signing with its manifest fails: {exc}") for i in culprits
                ]

    def _signs_alone(self, data: bytes, mime: str, record: dict, ingredient: Ingredient) -> bool:
        try:
            self._sign_with(data, mime, record, [ingredient], [])
        except c2pa.C2paError:
            return False
        return True

    def _sign_with(
        self,
        data: bytes,
        mime: str,
        record: dict,
        ingredients: list[Ingredient],
        unverified: list[dict],
    ) -> bytes:
        assertions = [
            {"label": "c2pa.actions", "data": {"actions": _actions(record, ingredients)}},
            {"label": GENERATION_LABEL, "data": _generation(record)},
        ]
        if unverified:
            assertions.append({"label": UNVERIFIED_LABEL, "data": {"ingredients": unverified}})
        manifest = {
            "claim_generator_info": [{"name": "cinedraft", "version": __version__}],
            "title": f"{record['asset_id']}",
            "assertions": assertions,
            "ingredients": _weights_ingredients(record),
        }
        builder = c2pa.Builder(manifest, context=self._context)
        for ingredient in ingredients:
            try:
                builder.add_ingredient(
                    {
                        "title": ingredient.asset_id,
                        "relationship": ingredient.relationship,
                        "instance_id": ingredient.asset_id,
                    },
                    ingredient.mime,
                    io.BytesIO(ingredient.data),
                )
            except c2pa.C2paError as exc:
                raise _DamagedIngredient(
                    _unverified(ingredient, f"its manifest cannot be read: {exc}")
                ) from None
        out = io.BytesIO()
        builder.sign(self._signer, mime, io.BytesIO(data), out)
        return out.getvalue()


def _weights_ingredients(record: dict) -> list[dict]:
    """The weights a generation ran with, as C2PA ``inputTo`` ingredients of the AI-model data
    type: the model, then each LoRA, embedding and VAE. Named by their SHA-256 (the files stay
    where they are: a checkpoint is gigabytes), so the manifest says exactly which ran."""
    weights = []
    if record.get("kind") not in ("image", "video"):  # edits, imports: no model ran
        return []
    if record.get("model_hash"):
        weights.append((Path(str(record.get("model"))).name, record["model_hash"], "the model"))
    for adapter in record.get("adapters") or []:
        what = adapter.get("kind", "adapter")
        if adapter.get("weight") is not None:
            what += f", weight {adapter['weight']:g}"
        weights.append((Path(adapter["path"]).name, adapter["sha256"], what))
    return [
        {
            "title": title,
            "format": "application/octet-stream",
            "relationship": "inputTo",
            "instance_id": f"sha256:{digest}",
            "description": what,
            "data_types": [{"type": "c2pa.types.model.pytorch"}],
        }
        for title, digest, what in weights
    ]


def _unverified(ingredient: Ingredient, reason: str) -> dict:
    return {
        "asset_id": ingredient.asset_id,
        "relationship": ingredient.relationship,
        "sha256": hashlib.sha256(ingredient.data).hexdigest(),
        "reason": reason[:500],
    }


class _DamagedIngredient(Exception):
    def __init__(self, entry: dict):
        self.entry = entry


def _actions(record: dict, ingredients: list[Ingredient]) -> list[dict]:
    """C2PA wants ``created`` or ``opened`` first: opened (the parent) then edited when there
    is a parent, else created; each component is then ``placed``."""
    made = {
        "digitalSourceType": AI_SOURCE,
        "softwareAgent": {"name": record.get("model") or "cinedraft"},
        "description": record.get("operation") or record.get("tier") or record.get("kind", ""),
    }
    parent = next((i for i in ingredients if i.relationship == "parentOf"), None)
    if parent is not None:
        actions = [
            {"action": "c2pa.opened", "parameters": {"ingredientIds": [parent.asset_id]}},
            {"action": "c2pa.edited", **made},
        ]
    else:
        actions = [{"action": "c2pa.created", **made}]
    actions += [
        {"action": "c2pa.placed", "parameters": {"ingredientIds": [i.asset_id]}}
        for i in ingredients
        if i.relationship == "componentOf"
    ]
    return actions


def _generation(record: dict) -> dict:
    """The short, stable part of the record that the manifest carries."""
    keys = (
        "asset_id",
        "kind",
        "model",
        "model_hash",
        "tier",
        "seed",
        "steps",
        "prompt",
        "adapters",  # LoRAs, embeddings, VAE: each with its file's sha256
        "policy",  # the usage policy's hits and the face check, when they ran
        "catalogue",  # a catalogue output: its SKU's row, the brand kit, the step
    )
    return {k: record[k] for k in keys if record.get(k) is not None}


def read_manifest(data: bytes, mime: str, trust_anchors: bytes | None = None) -> Manifest:
    """Validate the manifest in ``data``; ``trust_anchors`` (PEM) decides Trusted vs Valid."""
    settings = dict(_SETTINGS)
    if trust_anchors:
        settings |= {
            "trust": {"user_anchors": trust_anchors.decode()},
            "verify": {"verify_trust": True},
        }
    try:
        context = c2pa.Context.from_dict(settings)
        reader = c2pa.Reader.try_create(mime, io.BytesIO(data), context=context)
        if reader is None:
            return Manifest(present=False)
        with reader:
            active = reader.get_active_manifest() or {}
            results = reader.get_validation_results() or {}
            state = reader.get_validation_state() or "Invalid"
        return _manifest(active, results, state)
    # c2pa raises C2paError for most damage, but KeyError ('Active manifest not found') and
    # AttributeError for some: a damaged manifest is a finding, not a crash.
    except Exception as exc:  # noqa: BLE001
        return Manifest(
            present=True,
            state="Invalid",
            failures=[f"damaged manifest: {type(exc).__name__}: {exc}"],
        )


def _manifest(active: dict, results: dict, state: str) -> Manifest:
    found = [
        (str(f.get("code")), f"{f.get('code')}: {f.get('explanation', '')}")
        for f in (results.get("activeManifest") or {}).get("failure", [])
    ]
    failures = [text for code, text in found if code not in TRUST_CODES]
    trust_notes = [text for code, text in found if code in TRUST_CODES]
    if failures:
        state = "Invalid"
    elif trust_notes:
        state = "Valid"  # intact; only the signer is unknown here
    signature = active.get("signature_info") or {}
    actions, generation = [], {}
    for assertion in active.get("assertions", []):
        if assertion.get("label", "").startswith("c2pa.actions"):
            actions += assertion["data"].get("actions", [])
        elif assertion.get("label") == GENERATION_LABEL:
            generation = assertion.get("data", {})
    return Manifest(
        present=True,
        state=state,
        signer=signature.get("common_name"),
        issuer=signature.get("issuer"),
        generator=", ".join(
            f"{g.get('name')} {g.get('version', '')}".strip()
            for g in active.get("claim_generator_info", [])
        )
        or None,
        ai_generated=any(a.get("digitalSourceType") == AI_SOURCE for a in actions),
        model=generation.get("model"),
        asset_id=generation.get("asset_id"),
        policy=generation.get("policy"),
        catalogue=generation.get("catalogue"),
        actions=[a.get("action") for a in actions],
        ingredients=[
            {k: i.get(k) for k in ("title", "relationship", "instance_id") if i.get(k)}
            for i in active.get("ingredients", [])
        ],
        failures=failures,
        trust_notes=trust_notes,
    )
