"""The library: every output stored, recorded, searchable, signed.

Every asset goes through the same steps, one file at a time (:meth:`Library.add_bytes`) or a
request's images together (:meth:`Library.add_images`); imports skip only step 1:

1. sign the bytes with C2PA, naming the parents as ingredients (the signed bytes name the file);
2. note the files as pending (one transaction, committed, synchronous=FULL);
3. write each file atomically into the content-addressed store;
4. insert their rows, their lineage and clear the pending notes in one transaction.

A crash between 2 and 4 leaves a pending note; :meth:`Library.reconcile` (run by every open)
finishes the job: a complete file is adopted from the record embedded in it, a temp file is
removed, and a file that cannot be adopted is quarantined in ``lost+found/`` with its reason
(reported by :meth:`Library.check`, never retried). Each open library holds an exclusive
flock on ``owners/<owner>.lock`` for its lifetime and writes its owner into every pending
note, so any opener, whatever other processes have the library open, tells a dead writer's
leftovers (its owner lock can be taken) from a write still in flight (it cannot).
``reconcile.lock`` lets one reconciler run at a time.

Files from outside (:meth:`Library.import_file`) get a new id and kind ``import``; what their
embedded record says is kept as a claim (:mod:`.schema`), never as the library's own fields.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import functools
import io
import secrets
import shutil
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image
from pydantic import BaseModel, Field, field_validator

from ..errors import AssetNotFoundError, CinedraftError, InputError, InputTooLargeError, OutputError
from ..ids import ASSET_ID, check_asset_id, new_asset_id, utc_now
from ..quality import HIGHER_IS_CLEARER
from ..render.delivery import PROFILES, Profile, fit
from ..media.metadata import (
    DECODE_ERRORS,
    FORMATS,
    decode_problem,
    embed_video_record,
    encode_image,
    made_with,
    read_metadata,
)
from . import audit, records, watermark
from .audit import AuditEntry
from .db import connect
from ..media.files import (
    MIME,
    read_regular,
    sha256_bytes,
    sha256_file,
    sniff_extension,
    write_atomic,
)
from ..media.pixels import shown_rgb, shown_size
from ..media.probe import Prober
from .files import FileStore
from ..record import RECORD_VERSION, ImportRecord, upgrade_record
from .schema import claim_of, claimed_prompt, made_with_claim, row_fields

if TYPE_CHECKING:
    from .provenance import Ingredient, Manifest, Signer

MAX_INPUT_BYTES = 2 << 30  # a file given to import or verify
MAX_PIXELS = 40_000_000  # an imported image (a 6000x6000 PNG passes, decoded off the event loop)
# Roles whose sources are combined into the new asset (C2PA componentOf); others are parentOf.
COMPONENT_ROLES = {"source"}


class Asset(BaseModel):
    """One stored output: its row, its record, its place in the lineage."""

    id: str
    kind: str
    tier: str | None = None
    model: str | None = None
    prompt: str = ""
    negative_prompt: str = ""
    seed: int | None = None
    created: str
    width: int | None = None
    height: int | None = None
    mime: str
    path: str = Field(description="Absolute path of the stored file.")
    sha256: str
    bytes: int
    rating: int = 0
    favourite: bool = False
    tags: list[str] = []
    parents: list[dict] = []
    children: list[dict] = []
    metrics: dict[str, float] = Field({}, description="Measured on the stored file's pixels.")
    record: dict


class AssetQuery(BaseModel):
    """Filters for :meth:`Library.find`; all given filters must hold."""

    @field_validator("since", "until")
    @classmethod
    def _iso_time(cls, value: str | None) -> str | None:
        """A date or time as the library stores them (UTC, ``Z``), so comparisons are right."""
        if value is None:
            return None
        try:
            moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD) or ISO time") from None
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    text: str | None = Field(None, description="Full-text query over prompts (FTS5 syntax).")
    since: str | None = Field(None, description="Created at or after (ISO date or time, UTC).")
    until: str | None = Field(None, description="Created before (ISO date or time, UTC).")
    kind: str | None = None
    tier: str | None = None
    model: str | None = None
    tags: tuple[str, ...] = ()
    favourite: bool = False
    flagged: bool = Field(False, description="Only outputs the usage policy flagged.")
    min_rating: int = Field(0, ge=0, le=5)
    sort: str = Field(
        "newest",
        pattern=f"^(newest|oldest|rating|relevance|{'|'.join(HIGHER_IS_CLEARER)})$",
        description="newest, oldest, rating, relevance, or a metric (best first).",
    )
    limit: int = Field(50, ge=1, le=10_000)
    offset: int = Field(0, ge=0, le=2**62)  # SQLite integers are 64-bit


class Verification(BaseModel):
    """What ``verify`` found in a file."""

    path: str
    format: str
    manifest: dict
    watermark: str | None = Field(None, description="Asset id read from the watermark.")
    watermark_note: str = ""
    record_asset_id: str | None = None
    in_library: bool = False
    library_copy: bool = Field(False, description="Byte-identical to the library's file.")

    @property
    def ok(self) -> bool:
        """Intact: a manifest whose hashes and signature hold (a signer unknown here is not
        tampering)."""
        return self.manifest["state"] in ("Trusted", "Valid")

    @property
    def trusted(self) -> bool:
        return self.manifest["state"] == "Trusted"


def _serialized(method):
    """Run ``method`` holding the library's lock: the server's threads (API handlers, the
    model worker, the edit worker) share one connection, and a transaction must not interleave."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._db:
            return method(self, *args, **kwargs)

    return wrapper


class Library:
    """A library home: ``library.db``, ``objects/``, ``keys/``, ``lost+found/``. Thread-safe."""

    def __init__(self, root: Path, *, provenance: bool = True):
        self.root = Path(root).resolve()
        self.owner = secrets.token_hex(8)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._lock = open(self.root / "library.lock", "a+")  # noqa: SIM115 (held for life)
            (self.root / "owners").mkdir(exist_ok=True)
            self._owner_lock = open(self._owner_path(self.owner), "a+")  # noqa: SIM115 (held for life)
            fcntl.flock(self._owner_lock, fcntl.LOCK_EX)
        except OSError as exc:
            raise OutputError(f"cannot use {self.root} as a library: {exc.strerror}") from None
        self.files = FileStore(self.root)
        self.provenance = provenance
        self._db = threading.RLock()
        self._signer: Signer | None = None
        self._prober: Prober | None = None
        self.conn = connect(self.root / "library.db")
        self.last_reconcile = self._open_and_reconcile()

    def close(self) -> None:
        self.conn.close()
        self._lock.close()
        self._owner_path(self.owner).unlink(missing_ok=True)  # no pending note names it now
        self._owner_lock.close()
        if self._prober is not None:
            self._prober.close()

    def _owner_path(self, owner: str) -> Path:
        return self.root / "owners" / f"{owner}.lock"

    # ------------------------------------------------------------------ write path

    @staticmethod
    def new_id() -> str:
        return new_asset_id()

    def add_image(self, image: Image.Image, record: dict, fmt: str, quality: int = 100) -> Asset:
        """Watermark, encode (record embedded), sign and store one generated image."""
        return self.add_images([(image, record, fmt, quality)])[0]

    def add_images(
        self, items: list[tuple[Image.Image, dict, str, int]], keep_mark: dict | None = None
    ) -> list[Asset]:
        """:meth:`add_image` for several ``(image, record, fmt, quality)`` (one request's
        outputs), committed together: one transaction notes every file pending, one inserts
        every row, so a batch pays two commits, not two per image. Each file's clarity
        metrics are measured on a worker thread while it is signed (the signer runs in
        native code, outside the GIL).

        ``keep_mark``: the images keep another asset's pixels, its watermark included (a
        masked edit turn); no new mark is embedded over it, and this is what the record says
        of the mark. A record's own ``watermark`` field is never taken as that: only the
        library writes it."""
        files, measuring = [], []
        with ThreadPoolExecutor(max_workers=1) as pool:
            for image, record, fmt, quality in items:
                record.setdefault("created", utc_now())  # embedded in the file, as in the row
                record["schema_version"] = RECORD_VERSION
                record.pop("watermark", None)
                if self.provenance and keep_mark is not None:
                    record["watermark"] = dict(keep_mark)
                elif self.provenance and watermark.can_mark(image):
                    image = watermark.embed(image, record["asset_id"])
                    record["watermark"] = {
                        "method": watermark.METHOD,
                        "asset_id": record["asset_id"],
                    }
                elif self.provenance:
                    record["watermark"] = {
                        "method": None,
                        "reason": f"{image.width}x{image.height} is below the "
                        f"{watermark.METHOD} minimum of 256x256 pixels",
                    }
                encoded = encode_image(image, record, fmt, quality)
                # the signature adds a manifest, not pixels: measured while it is made
                measuring.append(pool.submit(_measure, encoded))
                files.append(self._signed(encoded, FORMATS[fmt], record))
            metrics = [m.result() for m in measuring]
        return self._commit(files, metrics)

    def add_video(self, data: bytes, record: dict) -> Asset:
        """Embed the record in an MP4 (stream copy), sign and store it."""
        _video_size(data, record.get("asset_id", "video"))  # refuse what does not demux
        record["schema_version"] = RECORD_VERSION
        return self.add_bytes(embed_video_record(data, record), ".mp4", record)

    def add_bytes(self, data: bytes, ext: str, record: dict) -> Asset:
        """Sign and store one file; ``record`` names the asset (see the module docstring)."""
        return self._commit([self._signed(data, ext, record)])[0]

    def _signed(self, data: bytes, ext: str, record: dict) -> tuple[bytes, str, dict, list]:
        """Step 1: ``(signed bytes, ext, record, parents)``, ready for :meth:`_commit`."""
        check_asset_id(record["asset_id"])
        record.setdefault("created", utc_now())
        parents = [(p["id"], p["role"]) for p in record.get("parents", [])]
        if self.provenance:
            data = self.signer().sign(data, MIME[ext], record, self._ingredients(parents))
        return data, ext, record, parents

    def import_file(self, path: Path) -> Asset:
        """Copy an outside file in as-is (its own manifest kept, not re-signed).

        It is an outside file: a new id, kind ``import``, and what its embedded record says
        kept under ``claim`` (checked against the record schema, with the problems found).
        Images are decoded whole; videos go through the prober (a separate process).
        """
        path, (data, ext) = Path(path), _read_input(path)
        if ext == ".mp4":
            video = self.prober().probe(path).video
            size = (video.width, video.height)  # as shown: a phone clip's turn applied
        else:
            size = _image_size(data, path.name)
        metadata = read_metadata(io.BytesIO(data))
        claim = claim_of(metadata["record"])
        if claim is None and metadata["record_error"]:
            claim = {"record": None, "valid": False, "problems": [metadata["record_error"]]}
        # A file from A1111 or ComfyUI says its prompt in their metadata: kept and indexed.
        made = made_with_claim(made_with(metadata)) if claim is None else None
        now = utc_now()
        record = ImportRecord(
            asset_id=self.new_id(),
            created=now,
            imported=now,
            imported_from=path.name[:255],
            width=size[0],
            height=size[1],
            prompt=claimed_prompt(claim) or (made or {}).get("prompt") or "",
            claim=claim,
            made_with=made,
        )
        return self._commit([(data, ext, record.to_dict(), [])])[0]

    def resolve(self, ref: str, kind: str | None = None) -> Asset:
        """The asset an asset id or a local file names; a file not in the library yet is
        imported (so lineage can name it). ``kind`` (``image``, ``video``) is checked."""
        ref = str(ref)
        if ASSET_ID.match(ref) and not Path(ref).exists():
            asset = self.get(ref)
        else:
            path = Path(ref).expanduser()
            if not path.is_file():
                raise InputError(f"no such file or asset id: {ref}")
            twin = self.by_sha(sha256_file(path))
            try:
                asset = self.get(twin.id) if twin else self.import_file(path)
            except CinedraftError as exc:
                raise InputError(
                    f"cannot use {path.name}{f' as the {kind}' if kind else ''}: {exc}"
                ) from None
        if kind is not None and not asset.mime.startswith(f"{kind}/"):
            article = "an" if kind[0] in "aeiou" else "a"
            raise InputError(f"{ref} is not {article} {kind} asset (it is {asset.mime})")
        return asset

    def prober(self) -> Prober:
        """The media prober (a worker process, started on first use, closed with the library)."""
        if self._prober is None:
            self._prober = Prober()
        return self._prober

    def _commit(
        self, files: list[tuple[bytes, str, dict, list]], metrics: list[dict] | None = None
    ) -> list[Asset]:
        """Steps 2-4 for ``(data, ext, record, parents)`` files: pending notes, files, rows.
        ``metrics`` per file, unless measured here (CPU work: before taking the lock)."""
        if metrics is None:
            metrics = [_measure(f[0]) if f[1] != ".mp4" else {} for f in files]
        with self._db:
            return self._commit_locked(files, metrics)

    def _commit_locked(self, files, metrics) -> list[Asset]:
        shas = [sha256_bytes(data) for data, *_ in files]
        for sha in shas:
            if (twin := records.asset_by_sha(self.conn, sha)) is not None:
                raise InputError(f"this file is already in the library as {twin['id']}")
        if len(set(shas)) < len(shas):
            raise InputError("the same file is twice in one batch")
        rels = [self.files.relpath(sha, ext) for sha, (_, ext, _, _) in zip(shas, files)]
        # Rows are built (records validated) before anything is written: a record that
        # cannot become a row leaves no file and no pending note.
        rows = [
            (self._row(record, rel, sha, len(data), ext), parents, m)
            for rel, sha, (data, ext, record, parents), m in zip(rels, shas, files, metrics)
        ]
        records.add_pending(self.conn, rels, utc_now(), self.owner)
        written = []
        try:
            for rel, (data, ext, _, _) in zip(rels, files):
                self.files.put(data, ext)
                written.append(rel)
        except OSError as exc:  # keep nothing of the batch
            self._undo(written, rels)
            raise OutputError(f"cannot write to {self.root}: {exc.strerror or exc}") from None
        try:
            records.insert_assets(self.conn, rows)
        except sqlite3.IntegrityError:  # an asset id is taken: undo the files, keep nothing
            self._undo(rels, rels)
            ids = ", ".join(record["asset_id"] for _, _, record, _ in files)
            raise InputError(f"asset id {ids} is already in the library") from None
        except Exception:  # keep nothing of the batch, whatever went wrong
            self._undo(rels, rels)
            raise
        return [self.get(record["asset_id"]) for _, _, record, _ in files]

    def _undo(self, written: list[str], pending: list[str]) -> None:
        for rel in written:
            self.files.resolve(rel).unlink(missing_ok=True)
        records.remove_pending(self.conn, pending)

    def convert(
        self, asset_id: str, fmt: str, quality: int = 90, max_side: int | None = None
    ) -> Asset:
        """A copy in another image format (and at most ``max_side`` pixels): record,
        watermark and a signed link to the source kept."""
        source = self.get(asset_id)
        if fmt not in FORMATS:
            raise InputError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
        with Image.open(source.path) as im:
            image = fit(shown_rgb(im), Profile("convert", fmt, quality, max_side))
        record = dict(source.record) | {
            "asset_id": self.new_id(),
            "created": utc_now(),
            "operation": "convert",
            "schema_version": RECORD_VERSION,
            "format": fmt,
            "quality": quality,
            "width": image.width,
            "height": image.height,
            "parents": [{"id": source.id, "role": "converted"}],
        }
        if "watermark" in source.record:  # the pixels still carry the source's mark
            record["watermark"] = dict(source.record["watermark"], inherited=True)
        return self.add_bytes(encode_image(image, record, fmt, quality), FORMATS[fmt], record)

    @_serialized
    def _ingredients(self, parents: list[tuple[str, str]]) -> list[Ingredient]:
        """Parents found in this library as C2PA ingredients: at most one ``parentOf`` (C2PA
        allows one), the rest ``componentOf``."""
        from .provenance import Ingredient  # c2pa and cryptography: only when signing

        out = []
        for parent_id, role in parents:
            row = records.get_asset(self.conn, parent_id)
            if row is None:
                continue  # not in this library: lineage keeps the id, the manifest cannot
            first_parent = role not in COMPONENT_ROLES and not any(
                i.relationship == "parentOf" for i in out
            )
            out.append(
                Ingredient(
                    asset_id=parent_id,
                    data=self.files.resolve(row["path"]).read_bytes(),
                    mime=row["mime"],
                    relationship="parentOf" if first_parent else "componentOf",
                )
            )
        return out

    def _row(self, record: dict, rel: str, sha: str, size: int, ext: str) -> dict:
        """The row of a record: its columns come only from the validated fields."""
        fields = row_fields(record)
        return fields.model_dump(exclude={"asset_id", "parents"}) | {
            "id": fields.asset_id,
            "prompt": fields.prompt or "",
            "negative_prompt": fields.negative_prompt or "",
            "created": fields.created or utc_now(),
            "mime": MIME[ext],
            "path": rel,
            "sha256": sha,
            "bytes": size,
            "record": record,
        }

    def signer(self) -> Signer:
        if self._signer is None:
            from .credentials import load_or_create
            from .provenance import Signer

            self._signer = Signer(load_or_create(self.root / "keys"))
        return self._signer

    # ------------------------------------------------------------------ reading

    @_serialized
    def _exists(self, asset_id: str) -> bool:
        return records.get_asset(self.conn, asset_id) is not None

    @_serialized
    def get(self, asset_id: str) -> Asset:
        row = records.get_asset(self.conn, check_asset_id(asset_id))
        if row is None:
            raise AssetNotFoundError(f"no asset {asset_id} in the library at {self.root}")
        return self._asset(row, full=True)

    def _asset(self, row: dict, full: bool = False) -> Asset:
        row = dict(
            row, path=str(self.files.resolve(row["path"])), record=upgrade_record(row["record"])
        )
        if full:
            row |= {
                "tags": records.tags_of(self.conn, row["id"]),
                "parents": records.parents_of(self.conn, row["id"]),
                "children": records.children_of(self.conn, row["id"]),
                "metrics": records.metrics_of(self.conn, row["id"]),
            }
        return Asset(**row)

    @_serialized
    def find(self, query: AssetQuery | None = None, **filters) -> list[Asset]:
        """Assets matching ``query`` (or the same fields as keywords)."""
        query = query or AssetQuery(**filters)
        try:
            rows = records.find_assets(
                self.conn, **query.model_dump(), metric_orders=HIGHER_IS_CLEARER
            )
        except sqlite3.OperationalError as exc:  # FTS5 query syntax
            raise InputError(f"bad search query {query.text!r}: {exc}") from None
        metrics, tags = records.metrics_and_tags(self.conn, [r["id"] for r in rows])
        return [
            self._asset(r).model_copy(update={"metrics": metrics[r["id"]], "tags": tags[r["id"]]})
            for r in rows
        ]

    @_serialized
    def lineage(self, asset_id: str, direction: str = "parents") -> list[tuple[int, str, str]]:
        """Ancestors (``parents``) or descendants (``children``) as ``(depth, id, role)``."""
        step = records.parents_of if direction == "parents" else records.children_of
        walked, frontier, seen = [], [(1, check_asset_id(asset_id))], {asset_id}
        while frontier:
            depth, current = frontier.pop(0)
            for link in step(self.conn, current):
                if link["id"] not in seen:
                    seen.add(link["id"])
                    walked.append((depth, link["id"], link["role"]))
                    frontier.append((depth + 1, link["id"]))
        return walked

    @_serialized
    def children(self, asset_id: str) -> list[tuple[str, str]]:
        """The assets made directly from ``asset_id``, oldest first, as ``(id, role)``."""
        return [(c["id"], c["role"]) for c in records.children_of(self.conn, asset_id)]

    @_serialized
    def by_sha(self, sha256: str) -> Asset | None:
        """The asset whose file has this SHA-256, if any (files are content-addressed)."""
        row = records.asset_by_sha(self.conn, sha256)
        return self._asset(row) if row else None

    @_serialized
    def catalogue_outputs(self, prefix: str) -> dict[str, list[str]]:
        """Asset ids by the catalogue key their record carries (keys starting ``prefix``)."""
        return records.catalogue_outputs(self.conn, prefix)

    @_serialized
    def assets_of_job(self, job_id: str) -> list[str]:
        """Ids of the assets a server job stored so far, oldest first."""
        return records.assets_of_job(self.conn, job_id)

    @_serialized
    def count(self) -> int:
        return records.count_assets(self.conn)

    # ------------------------------------------------------------------ curation

    @_serialized
    def tag(self, asset_id: str, add: list[str] = (), remove: list[str] = ()) -> Asset:
        self.get(asset_id)
        bad = [t for t in (*add, *remove) if not t.strip() or len(t) > 64]
        if bad:
            raise InputError(f"tags must be 1-64 characters, got {bad[0]!r}")
        records.add_tags(self.conn, asset_id, [t.strip() for t in add])
        records.remove_tags(self.conn, asset_id, [t.strip() for t in remove])
        return self.get(asset_id)

    @_serialized
    def rate(self, asset_id: str, rating: int) -> Asset:
        if not 0 <= rating <= 5:
            raise InputError(f"rating must be 0-5, got {rating}")
        self.get(asset_id)
        records.set_rating(self.conn, asset_id, rating)
        return self.get(asset_id)

    @_serialized
    def favourite(self, asset_id: str, on: bool = True) -> Asset:
        self.get(asset_id)
        records.set_favourite(self.conn, asset_id, on)
        return self.get(asset_id)

    # ------------------------------------------------------------------ export / verify

    def export(
        self, asset_ids: list[str], dest: Path, fmt: str | None = None, profile: str | None = None
    ) -> list[Path]:
        """Each file and a JSON of its record (lineage, tags included) into ``dest``.

        With ``fmt`` or a delivery ``profile`` (lossless, web, preview) the file is first
        converted (a new, signed library asset).
        """
        if profile is not None and profile not in PROFILES:
            raise InputError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
        if fmt is not None and fmt not in FORMATS:
            raise InputError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
        assets = [self.get(a) for a in asset_ids]  # all or nothing: check every id first
        if (fmt or profile) and (videos := [a.id for a in assets if a.mime.startswith("video/")]):
            raise InputError(
                f"{videos[0]} is a video: --format and --profile convert images "
                "(export a video as it is, or re-encode it with `cinedraft edit`)"
            )
        dest = Path(dest)
        if dest.resolve().is_relative_to(self.root):  # the store's own folders
            raise InputError(  # hold only its files: a check calls others orphans
                f"{dest} is inside the library ({self.root}); export to a folder outside it"
            )
        try:
            dest.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create {dest}: {exc.strerror}") from None
        written = []
        for asked in assets:
            # Named for the asset asked for (a conversion is a new asset, named in the JSON),
            # and readable as any file handed out is, not private as the library's are.
            asset, name = asked, asked.id
            if profile is not None:
                p = PROFILES[profile]
                asset, name = (
                    self.convert(asked.id, p.format, p.quality, p.max_side),
                    f"{name}-{profile}",
                )
            elif fmt and asked.mime != MIME[FORMATS[fmt]]:
                asset = self.convert(asked.id, fmt)
            target = dest / f"{name}{Path(asset.path).suffix}"
            write_atomic(target, Path(asset.path).read_bytes(), shared=True)
            record = asset.model_dump_json(indent=2).encode()
            write_atomic(target.with_suffix(".json"), record, shared=True)
            written.append(target)
        return written

    def verify(self, path: Path) -> Verification:
        """Manifest, watermark and library membership of any file."""
        from .credentials import trust_anchors
        from .provenance import read_manifest

        data, ext = _read_input(path)
        manifest: Manifest = read_manifest(data, MIME[ext], trust_anchors(self.root / "keys"))
        found = Verification(path=str(path), format=ext.lstrip("."), manifest=manifest.__dict__)
        found.manifest["tampered"] = manifest.tampered
        if ext == ".mp4":
            try:
                embedded = read_metadata(io.BytesIO(data)).get("record") or {}
                found.record_asset_id = _claimed_id(embedded)
                found.watermark_note = "video frames are not watermarked"
            except Exception as exc:  # noqa: BLE001 - PyAV raises many kinds for a bad file
                found.watermark_note = f"video cannot be read: {exc}"
        else:
            try:
                embedded = read_metadata(io.BytesIO(data)).get("record") or {}
                with Image.open(io.BytesIO(data)) as im:
                    image = shown_rgb(im)
                w, h = embedded.get("width"), embedded.get("height")
                sizes = (
                    [(w, h)] if all(isinstance(v, int) and 0 < v <= 1 << 16 for v in (w, h)) else []
                )
                found.record_asset_id = _claimed_id(embedded)
                found.watermark = watermark.detect(image, sizes)
                found.watermark_note = "found" if found.watermark else "none found"
            except DECODE_ERRORS as exc:
                found.watermark_note = f"image cannot be decoded: {exc}"
        known = (
            found.record_asset_id or found.watermark or _claimed_id({"asset_id": manifest.asset_id})
        )
        sha = sha256_bytes(data)
        with self._db:
            row = records.get_asset(self.conn, known) if known else None
            # a file this library holds byte for byte, whatever it claims (an imported one
            # names no asset of this library)
            row = row or records.asset_by_sha(self.conn, sha)
        if row:
            found.in_library = True
            found.library_copy = row["sha256"] == sha
        return found

    def trust(self, pem_path: Path) -> tuple[str, str]:
        """Trust another library's CA (its ``keys/ca.pem``): files it signed verify as Trusted."""
        from .credentials import trust_ca

        return trust_ca(self.root / "keys", read_regular(pem_path, 1 << 20))

    def untrust(self, fingerprint: str) -> None:
        from .credentials import untrust_ca

        untrust_ca(self.root / "keys", fingerprint)

    def trusted(self) -> list[tuple[str, str]]:
        """``(fingerprint, subject)`` of the other CAs this library trusts."""
        from .credentials import trusted_cas

        return trusted_cas(self.root / "keys")

    # ------------------------------------------------------------------ integrity

    def _open_and_reconcile(self) -> dict:
        """Reconcile what dead writers left; notes written before owners (migration 005) only
        when no other process has the library open. Then hold a shared lock for life."""
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            alone = True
        except BlockingIOError:
            alone = False
        try:
            with open(self.root / "reconcile.lock", "a+") as one_at_a_time:
                fcntl.flock(one_at_a_time, fcntl.LOCK_EX)
                return self.reconcile(alone)
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_SH)

    @_serialized
    def reconcile(self, alone: bool = False) -> dict:
        """Finish or undo what crashed writers left pending. Never raises for a bad leftover:
        what cannot be adopted is quarantined, so a library always opens."""
        report = {"adopted": [], "removed_temp": 0, "quarantined": [], "dropped": 0, "in_flight": 0}
        for rel, owner in records.pending_notes(self.conn):
            if not self._writer_is_gone(owner, alone):
                report["in_flight"] += 1
                continue
            try:
                self._settle(rel, report)
            except Exception as exc:  # noqa: BLE001 - whatever the leftover is, set it aside
                report["quarantined"].append(rel)
                self._quarantine(rel, f"{type(exc).__name__}: {exc}")
            records.remove_pending(self.conn, [rel])
        return report

    def _writer_is_gone(self, owner: str | None, alone: bool) -> bool:
        if owner is None:  # written before owners existed: only safe when nobody else is here
            return alone
        if owner == self.owner:
            return False
        try:
            with open(self._owner_path(owner), "a+") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self._owner_path(owner).unlink(missing_ok=True)  # leftover of a dead library
        return True

    def _settle(self, rel: str, report: dict) -> None:
        """One dead writer's pending file: temp files removed, then adopted or dropped."""
        path = self.files.resolve(rel)
        for tmp in path.parent.glob(f".{path.name}.*.tmp"):
            tmp.unlink(missing_ok=True)
            report["removed_temp"] += 1
        if not path.exists() or records.asset_by_sha(self.conn, path.stem) is not None:
            report["dropped"] += 1
            return
        try:
            report["adopted"].append(self._adopt(path, rel))
        except InputError as exc:
            report["quarantined"].append(rel)
            self._quarantine(rel, str(exc))

    def _adopt(self, path: Path, rel: str) -> str:
        """Insert the row a crash did not commit, from the record inside the file; an
        :class:`InputError` says why it cannot be."""
        data = read_regular(path)
        if sha256_bytes(data) != path.stem:
            raise InputError("its bytes do not match its name (torn or altered)")
        metadata = read_metadata(io.BytesIO(data))
        record = metadata["record"]
        if record is None:
            raise InputError(metadata["record_error"] or "it holds no record")
        record = upgrade_record(record)
        row = self._row(record, rel, path.stem, len(data), path.suffix)  # validates the record
        if self._exists(row["id"]):
            raise InputError(f"its asset id {row['id']} is already in the library")
        parents = [(p.id, p.role) for p in row_fields(record).parents]
        records.insert_asset(
            self.conn, row, parents, _measure(data) if path.suffix != ".mp4" else {}
        )
        return row["id"]

    def _quarantine(self, rel: str, reason: str) -> None:
        """Move a pending file to ``lost+found/`` and note why (kept, never retried)."""
        try:
            path = self.files.resolve(rel)
        except InputError:
            return
        if path.exists():
            quarantine = self.root / "lost+found"
            quarantine.mkdir(exist_ok=True)
            shutil.move(path, quarantine / path.name)
            records.add_quarantined(self.conn, path.name, reason[:1000], utc_now())

    # ------------------------------------------------------------------ audit trail

    @_serialized
    def audit(self, entry: AuditEntry) -> int:
        """Append ``entry`` to the hash-chained audit trail; its sequence number."""
        return audit.append(self.conn, entry)

    @_serialized
    def audit_entries(
        self, since: str | None = None, actor: str | None = None, flagged: bool = False
    ) -> list[dict]:
        return audit.rows(self.conn, since, actor, flagged)

    @_serialized
    def audit_verify(self) -> tuple[int, list[str]]:
        """(entries checked, every break in the chain)."""
        return audit.verify(self.conn)

    @_serialized
    def audit_prune(self, before: str) -> int:
        """Delete entries older than ``before`` (ISO time); the rest still verifies."""
        return audit.prune(self.conn, before)

    @_serialized
    def check(self, hashes: bool = True) -> dict:
        """Files vs rows vs hashes vs ids: every problem found, nothing changed.

        ``quarantined`` (files recovery set aside, with why) is reported but is not a problem
        of the library: those files are kept outside it for a person to look at.
        """
        problems = {
            "missing": [],
            "corrupt": [],
            "orphans": [],
            "pending": [],
            "invalid_ids": [],
            "temp_files": [],
        }
        known = set()
        for asset_id, rel, sha, size in records.files(self.conn):
            if not isinstance(asset_id, str) or not ASSET_ID.match(asset_id):
                problems["invalid_ids"].append(str(asset_id))
            try:
                path = self.files.resolve(rel)
            except InputError:
                problems["corrupt"].append(str(asset_id))
                continue
            known.add(path)
            if not path.is_file():
                problems["missing"].append(asset_id)
            elif path.stat().st_size != size or (hashes and sha256_file(path) != sha):
                problems["corrupt"].append(asset_id)
        problems["orphans"] = [
            str(p.relative_to(self.root)) for p in self.files.stored() if p not in known
        ]
        problems["pending"] = records.pending_paths(self.conn)
        in_flight = {self.files.resolve(rel).name for rel in problems["pending"]}
        problems["temp_files"] = [
            str(p.relative_to(self.root))
            for p in self.files.temp_files()
            if p.name[1:].rsplit(".", 2)[0] not in in_flight  # .<name>.<random>.tmp
        ]
        quarantined = records.quarantined(self.conn)
        return {
            "assets": len(known),
            "ok": not any(problems.values()),
            **problems,
            "quarantined": [
                {"file": f"lost+found/{name}", "reason": why} for name, why in quarantined.items()
            ],
        }


def _claimed_id(embedded: dict) -> str | None:
    """An asset id a file claims, if it is one (it is looked up, never trusted)."""
    claimed = embedded.get("asset_id")
    return claimed if isinstance(claimed, str) and ASSET_ID.match(claimed) else None


def _read_input(path: Path) -> tuple[bytes, str]:
    """The bytes of a user-given regular file and its type, or a clear error."""
    data = read_regular(path, MAX_INPUT_BYTES)
    return data, sniff_extension(data, Path(path).name)


def _measure(data: bytes) -> dict[str, float]:
    """Clarity metrics of the delivered pixels (after compression, as a viewer sees them)."""
    from ..quality.metrics import image_metrics  # OpenCV: only when storing

    with Image.open(io.BytesIO(data)) as im:
        return {k: round(v, 6) for k, v in image_metrics(shown_rgb(im)).items()}


def _video_size(data: bytes, name: str) -> tuple[int, int]:
    """Width and height of the first video stream; a clear error for what does not demux."""
    import av

    from ..media.codec import main_video

    try:
        with av.open(io.BytesIO(data)) as container:
            stream = main_video(container, name)
            return stream.codec_context.width, stream.codec_context.height
    except av.error.FFmpegError as exc:
        raise InputError(f"{name} is not a readable video: {exc}") from None


def _image_size(data: bytes, name: str) -> tuple[int, int]:
    """Decode fully (not just the header) so a truncated or corrupt file is refused; the
    pixel count is checked from the header first (a few KB of PNG can hold 36M pixels). The
    size is the one shown: a phone photo turned as its EXIF says."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > MAX_PIXELS:
                raise InputTooLargeError(
                    f"{name} is {im.width}x{im.height}: images are limited to {MAX_PIXELS:,} pixels"
                )
            im.load()
            return shown_size(im)
    except DECODE_ERRORS as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{name} is not a readable image: {decode_problem(exc)}") from None
