"""The library: every output stored, recorded, searchable, signed.

Every asset goes through the same steps, one file at a time (:meth:`Library.add_bytes`) or a
request's images together (:meth:`Library.add_images`); imports skip only step 1:

1. sign the bytes with C2PA, naming the parents as ingredients (the signed bytes name the file);
2. note the files as pending (one transaction, committed, synchronous=FULL);
3. write each file atomically into the content-addressed store;
4. insert their rows, their lineage and clear the pending notes in one transaction.

A crash between 2 and 4 leaves a pending note; :meth:`Library.reconcile` (run on open by the
first process to open the library) finishes the job: a complete file is adopted from the
record embedded in it, a temp file is removed. A ``library.lock`` flock tells the reconciler
whether any other process has the library open (then pending notes may be in flight).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import functools
import io
import re
import secrets
import shutil
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, Field

from ..errors import AssetNotFoundError, InputError, OutputError
from ..quality.metrics import HIGHER_IS_CLEARER, image_metrics
from ..render.delivery import PROFILES, Profile, fit
from ..render.encode import FORMATS, embed_video_record, encode_image, read_metadata
from . import records, watermark
from .credentials import load_or_create
from .db import connect
from .files import FileStore, sha256_bytes, sha256_file, write_atomic
from .provenance import Ingredient, Manifest, Signer, read_manifest

ASSET_ID = re.compile(r"^[0-9a-f]{12}$")
MIME = {".png": "image/png", ".webp": "image/webp", ".jpg": "image/jpeg", ".mp4": "video/mp4"}
_MAGIC = ((b"\x89PNG", ".png"), (b"\xff\xd8", ".jpg"), (b"RIFF", ".webp"))
# Roles whose sources are combined into the new asset (C2PA componentOf); others are parentOf.
COMPONENT_ROLES = {"source"}


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_asset_id(asset_id: str) -> str:
    if not ASSET_ID.match(asset_id or ""):
        raise InputError(f"{asset_id!r} is not an asset id (12 hex digits)")
    return asset_id


def sniff_extension(data: bytes, name: str = "") -> str:
    """The file type from its first bytes (the name's suffix only as a fallback)."""
    for magic, ext in _MAGIC:
        if data.startswith(magic) and (ext != ".webp" or data[8:12] == b"WEBP"):
            return ext
    if data[4:8] == b"ftyp":
        return ".mp4"
    suffix = Path(name).suffix.lower().replace(".jpeg", ".jpg")
    if suffix in MIME:
        return suffix
    raise InputError(f"{name or 'file'}: not a PNG, JPEG, WebP or MP4 file")


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

    text: str | None = Field(None, description="Full-text query over prompts (FTS5 syntax).")
    since: str | None = Field(None, description="Created at or after (ISO date or time, UTC).")
    until: str | None = Field(None, description="Created before (ISO date or time, UTC).")
    kind: str | None = None
    tier: str | None = None
    model: str | None = None
    tags: tuple[str, ...] = ()
    favourite: bool = False
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
        return self.manifest["state"] in ("Trusted", "Valid")


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
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._lock = open(self.root / "library.lock", "a+")  # noqa: SIM115 (held for life)
        except OSError as exc:
            raise OutputError(f"cannot use {self.root} as a library: {exc.strerror}") from None
        self.files = FileStore(self.root)
        self.provenance = provenance
        self._db = threading.RLock()
        self._signer: Signer | None = None
        self.conn = connect(self.root / "library.db")
        self.last_reconcile = self._open_and_reconcile()

    def close(self) -> None:
        self.conn.close()
        self._lock.close()

    # ------------------------------------------------------------------ write path

    @staticmethod
    def new_id() -> str:
        return secrets.token_hex(6)

    def add_image(self, image: Image.Image, record: dict, fmt: str, quality: int = 100) -> Asset:
        """Watermark, encode (record embedded), sign and store one generated image."""
        return self.add_images([(image, record, fmt, quality)])[0]

    def add_images(self, items: list[tuple[Image.Image, dict, str, int]]) -> list[Asset]:
        """:meth:`add_image` for several ``(image, record, fmt, quality)`` (one request's
        outputs), committed together: one transaction notes every file pending, one inserts
        every row, so a batch pays two commits, not two per image. Each file's clarity
        metrics are measured on a worker thread while the next one is signed (the signer
        runs in native code, outside the GIL)."""
        files, measuring = [], []
        with ThreadPoolExecutor(max_workers=1) as pool:
            for image, record, fmt, quality in items:
                if self.provenance and watermark.can_mark(image):
                    image = watermark.embed(image, record["asset_id"])
                    record["watermark"] = {"method": watermark.METHOD, "asset_id": record["asset_id"]}
                elif self.provenance:
                    record["watermark"] = {
                        "method": None,
                        "reason": f"{image.width}x{image.height} is below the "
                        f"{watermark.METHOD} minimum of 256x256 pixels",
                    }
                data, ext, record, parents = self._signed(
                    encode_image(image, record, fmt, quality), FORMATS[fmt], record
                )
                files.append((data, ext, record, parents))
                measuring.append(pool.submit(_measure, data))
            metrics = [m.result() for m in measuring]
        return self._commit(files, metrics)

    def add_video(self, data: bytes, record: dict) -> Asset:
        """Embed the record in an MP4 (stream copy), sign and store it."""
        _video_size(data, record.get("asset_id", "video"))  # refuse what does not demux
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
        """Copy an outside file in as-is (its own manifest kept, not re-signed)."""
        path, (data, ext) = Path(path), _read_input(path)
        size = _image_size(data, path.name) if ext != ".mp4" else _video_size(data, path.name)
        record = dict(read_metadata(io.BytesIO(data)).get("record") or {})
        if not record.get("asset_id") or self._exists(record["asset_id"]):
            record["asset_id"] = self.new_id()
        record |= {"kind": record.get("kind", "import"), "imported_from": path.name,
                   "imported": utc_now()}
        record.setdefault("width", size[0])
        record.setdefault("height", size[1])
        return self._commit([(data, ext, record, [])])[0]

    def _commit(self, files: list[tuple[bytes, str, dict, list]], metrics: list[dict] | None = None) -> list[Asset]:
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
        records.add_pending(self.conn, rels, utc_now())
        written = []
        try:
            for rel, (data, ext, _, _) in zip(rels, files):
                self.files.put(data, ext)
                written.append(rel)
        except OSError as exc:  # keep nothing of the batch
            self._undo(written, rels)
            raise OutputError(f"cannot write to {self.root}: {exc.strerror or exc}") from None
        rows = [
            (self._row(record, rel, sha, len(data), ext), parents, m)
            for rel, sha, (data, ext, record, parents), m in zip(rels, shas, files, metrics)
        ]
        try:
            records.insert_assets(self.conn, rows)
        except sqlite3.IntegrityError:  # an asset id is taken: undo the files, keep nothing
            self._undo(rels, rels)
            ids = ", ".join(record["asset_id"] for _, _, record, _ in files)
            raise InputError(f"asset id {ids} is already in the library") from None
        return [self.get(record["asset_id"]) for _, _, record, _ in files]

    def _undo(self, written: list[str], pending: list[str]) -> None:
        for rel in written:
            self.files.resolve(rel).unlink(missing_ok=True)
        records.remove_pending(self.conn, pending)

    def convert(self, asset_id: str, fmt: str, quality: int = 90, max_side: int | None = None) -> Asset:
        """A copy in another image format (and at most ``max_side`` pixels): record,
        watermark and a signed link to the source kept."""
        source = self.get(asset_id)
        if fmt not in FORMATS:
            raise InputError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
        with Image.open(source.path) as im:
            image = fit(im.convert("RGB"), Profile("convert", fmt, quality, max_side))
        record = dict(source.record) | {
            "asset_id": self.new_id(),
            "created": utc_now(),
            "operation": "convert",
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
        out = []
        for parent_id, role in parents:
            row = records.get_asset(self.conn, parent_id)
            if row is None:
                continue  # not in this library: lineage keeps the id, the manifest cannot
            first_parent = role not in COMPONENT_ROLES and not any(
                i.relationship == "parentOf" for i in out
            )
            out.append(Ingredient(
                asset_id=parent_id, data=self.files.resolve(row["path"]).read_bytes(),
                mime=row["mime"], relationship="parentOf" if first_parent else "componentOf",
            ))
        return out

    def _row(self, record: dict, rel: str, sha: str, size: int, ext: str) -> dict:
        return {
            "id": record["asset_id"],
            "kind": record.get("kind", "image"),
            "tier": record.get("tier"),
            "model": record.get("model"),
            "prompt": record.get("prompt") or "",
            "negative_prompt": record.get("negative_prompt") or "",
            "seed": record.get("seed"),
            "created": record.get("created") or utc_now(),
            "width": record.get("width"),
            "height": record.get("height"),
            "mime": MIME[ext],
            "path": rel,
            "sha256": sha,
            "bytes": size,
            "job_id": record.get("job_id"),
            "record": record,
        }

    def signer(self) -> Signer:
        if self._signer is None:
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
        row = dict(row, path=str(self.files.resolve(row["path"])))
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
        return [self._asset(r) for r in rows]

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
    def by_sha(self, sha256: str) -> Asset | None:
        """The asset whose file has this SHA-256, if any (files are content-addressed)."""
        row = records.asset_by_sha(self.conn, sha256)
        return self._asset(row) if row else None

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
        assets = [self.get(a) for a in asset_ids]  # all or nothing: check every id first
        dest = Path(dest)
        try:
            dest.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create {dest}: {exc.strerror}") from None
        written = []
        for asset in assets:
            if profile is not None:
                p = PROFILES[profile]
                asset = self.convert(asset.id, p.format, p.quality, p.max_side)
            elif fmt and asset.mime != MIME[FORMATS[fmt]]:
                asset = self.convert(asset.id, fmt)
            target = dest / f"{asset.id}{Path(asset.path).suffix}"
            write_atomic(target, Path(asset.path).read_bytes())
            write_atomic(target.with_suffix(".json"), asset.model_dump_json(indent=2).encode())
            written.append(target)
        return written

    def verify(self, path: Path) -> Verification:
        """Manifest, watermark and library membership of any file."""
        data, ext = _read_input(path)
        ca = self.root / "keys" / "ca.pem"
        manifest: Manifest = read_manifest(data, MIME[ext], ca.read_bytes() if ca.exists() else None)
        found = Verification(path=str(path), format=ext.lstrip("."), manifest=manifest.__dict__)
        found.manifest["tampered"] = manifest.tampered
        if ext == ".mp4":
            try:
                embedded = read_metadata(io.BytesIO(data)).get("record") or {}
                found.record_asset_id = embedded.get("asset_id")
                found.watermark_note = "video frames are not watermarked"
            except Exception as exc:  # noqa: BLE001 - PyAV raises many kinds for a bad file
                found.watermark_note = f"video cannot be read: {exc}"
        else:
            try:
                embedded = read_metadata(io.BytesIO(data)).get("record") or {}
                with Image.open(io.BytesIO(data)) as im:
                    image = im.convert("RGB")
                sizes = [(embedded["width"], embedded["height"])] if embedded.get("width") else []
                found.record_asset_id = embedded.get("asset_id")
                found.watermark = watermark.detect(image, sizes)
                found.watermark_note = "found" if found.watermark else "none found"
            except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
                found.watermark_note = f"image cannot be decoded: {exc}"
        known = found.record_asset_id or found.watermark or manifest.asset_id
        with self._db:
            row = records.get_asset(self.conn, known) if known and ASSET_ID.match(known) else None
        if row:
            found.in_library = True
            found.library_copy = row["sha256"] == sha256_bytes(data)
        return found

    # ------------------------------------------------------------------ integrity

    def _open_and_reconcile(self) -> dict | None:
        """Reconcile if no other process has the library open; then hold a shared lock."""
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fcntl.flock(self._lock, fcntl.LOCK_SH)
            return None
        try:
            return self.reconcile()
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_SH)

    @_serialized
    def reconcile(self) -> dict:
        """Finish or undo what a crash left pending. Call only with the exclusive lock."""
        report = {"adopted": [], "removed_temp": 0, "quarantined": [], "dropped": 0}
        for rel in records.pending_paths(self.conn):
            path = self.files.resolve(rel)
            for tmp in path.parent.glob(f".{path.name}.*.tmp"):
                tmp.unlink(missing_ok=True)
                report["removed_temp"] += 1
            if path.exists() and records.asset_by_sha(self.conn, path.stem) is None:
                adopted = self._adopt(path, rel)
                report["adopted" if adopted else "quarantined"].append(adopted or rel)
            else:
                report["dropped"] += 1
            records.remove_pending(self.conn, [rel])
        return report

    def _adopt(self, path: Path, rel: str) -> str | None:
        """Insert the row a crash did not commit, from the record inside the file."""
        data = path.read_bytes()
        try:
            record = read_metadata(io.BytesIO(data)).get("record")
        except Exception:  # noqa: BLE001 - any unreadable file is quarantined, never fatal
            record = None
        if sha256_bytes(data) != path.stem or not record or self._exists(record.get("asset_id", "")):
            quarantine = self.root / "lost+found"
            quarantine.mkdir(exist_ok=True)
            shutil.move(path, quarantine / path.name)
            return None
        parents = [(p["id"], p["role"]) for p in record.get("parents", [])]
        row = self._row(record, rel, path.stem, len(data), path.suffix)
        records.insert_asset(self.conn, row, parents, _measure(data) if path.suffix != ".mp4" else {})
        return record["asset_id"]

    @_serialized
    def check(self, hashes: bool = True) -> dict:
        """Files vs rows vs hashes: every problem found, nothing changed."""
        problems = {"missing": [], "corrupt": [], "orphans": [], "pending": []}
        known = set()
        for asset_id, rel, sha, size in records.files(self.conn):
            path = self.files.resolve(rel)
            known.add(path)
            if not path.exists():
                problems["missing"].append(asset_id)
            elif path.stat().st_size != size or (hashes and sha256_file(path) != sha):
                problems["corrupt"].append(asset_id)
        problems["orphans"] = [str(p.relative_to(self.root)) for p in self.files.stored() if p not in known]
        problems["pending"] = records.pending_paths(self.conn)
        return {"assets": len(known), "ok": not any(problems.values()), **problems}


def _read_input(path: Path) -> tuple[bytes, str]:
    """The bytes of a user-given file and its type, or a clear error."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    return data, sniff_extension(data, Path(path).name)


def _measure(data: bytes) -> dict[str, float]:
    """Clarity metrics of the delivered pixels (after compression, as a viewer sees them)."""
    with Image.open(io.BytesIO(data)) as im:
        return {k: round(v, 6) for k, v in image_metrics(im.convert("RGB")).items()}


def _video_size(data: bytes, name: str) -> tuple[int, int]:
    """Width and height of the first video stream; a clear error for what does not demux."""
    import av

    try:
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.video[0]
            return stream.codec_context.width, stream.codec_context.height
    except (av.error.FFmpegError, IndexError) as exc:
        raise InputError(f"{name} is not a readable video: {exc}") from None


def _image_size(data: bytes, name: str) -> tuple[int, int]:
    """Decode fully (not just the header) so a truncated or corrupt file is refused."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            return im.size
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise InputError(f"{name} is not a readable image: {exc}") from None

