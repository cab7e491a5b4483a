"""A catalogue run: per SKU of a product list, lifestyle images in every aspect, kept in the
library and laid out in an output folder with a manifest.

:meth:`Catalogue.run_sku` reads top to bottom:

1. drafts: with a packshot, the product is cut out and placed, and only the scene around it
   is drawn (inpainting, :mod:`cinedraft.catalogue.lock`); without one, the row's prompt
   draws the whole image;
2. the drafts ranked by :func:`score`;
3. the best promoted to production; with a packshot the product's own pixels go back over
   it with a contact shadow, and the product is measured (SSIM >= 0.98 against the
   packshot's at that scale), else the next draft (another seed) is tried;
4. every aspect by outpainting the hero (the product is never cropped away; with a
   packshot it is measured again);
5. the files: ``OUT/<sku>/`` (see :mod:`cinedraft.catalogue.folder`).

Resumable: every output's record carries ``catalogue.key``, ``<row digest>:<step>``. The
digest covers the row, its packshot's bytes, the brand kit, model and seed, so the same
command finds what an earlier (killed) run stored and makes only the rest; a changed row
starts that SKU afresh. A step's outputs are stored in one transaction, so a kill leaves a
step made or not made, never half made and never made twice. The model is loaded only when
something must be drawn: resuming a finished catalogue reads the library and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from PIL import Image

from ..errors import CinedraftError, InputError, JobCancelled
from ..ids import new_asset_id
from ..library import Asset, Library
from ..media.pixels import as_shown
from ..quality.metrics import masked_ssim, noise_sigma
from ..record import AdjustRecord, Parent
from ..render import masks
from ..request import EditRequest, ImageRequest, Overrides, Progress, no_progress
from . import folder, lock
from .brand import BrandKit
from ..render.cutout import Cutout, cached_cut
from .sheet import Product, Sheet

if TYPE_CHECKING:
    from ..engine.engine import Engine

FLOW = 1  # part of every key: a change to the steps below that alters outputs bumps it
LOCK_TRIES = 3  # drafts (seeds) tried before a SKU fails its product check


@dataclass
class SkuReport:
    sku: str
    line: int
    files: list[dict] = field(default_factory=list)  # manifest rows
    problem: str | None = None
    made: int = 0  # steps run now
    reused: int = 0  # steps an earlier run had stored


@dataclass
class CatalogueReport:
    out: Path
    skus: list[SkuReport]
    problems: list[str]  # rows skipped, with their line numbers

    @property
    def failed(self) -> list[str]:
        return self.problems + [
            f"line {s.line} ({s.sku}): {s.problem}" for s in self.skus if s.problem
        ]


def score(
    image: Image.Image,
    palette: tuple[tuple[int, int, int], ...],
    product: np.ndarray | None = None,
) -> float:
    """How a draft ranks (higher first): palette fit x cleanness x distinctness.

    Palette fit: the mean over pixels of ``exp(-dE / 25)``, dE the CIELAB distance to the
    nearest palette colour (1 without a palette). Cleanness: ``exp(-noise / 8)``, noise the
    residual noise sigma in grey levels (Immerkaer), what makes a small model's draft look
    unfinished. Distinctness, with a packshot (``product``: its mask in this draft):
    ``exp(-10 x share)``, share the part of the scene (beyond 3 px of the product) within
    dE 15 of the product's own colours: an inpainting model asked for "a red bottle on a
    table" often draws a second, ghostly red bottle beside the real one."""
    rgb = np.asarray(image.convert("RGB"))
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)
    fit = 1.0
    if palette:
        colours = np.array(palette, np.float32).reshape(-1, 1, 3) / 255
        ref = cv2.cvtColor(colours, cv2.COLOR_RGB2LAB).reshape(1, -1, 3)
        fit = float(np.exp(-np.linalg.norm(lab.reshape(-1, 1, 3) - ref, axis=2).min(1) / 25).mean())
    distinct = 1.0
    if product is not None and product.any():
        near = cv2.dilate(product.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
        own = lab[product]
        cv2.setRNGSeed(0)  # the same ranking every run
        _, _, centres = cv2.kmeans(
            own.astype(np.float32), min(3, len(own)), None,
            (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 0.5), 1,
            cv2.KMEANS_PP_CENTERS,
        )  # fmt: skip
        scene = lab[~near].reshape(-1, 1, 3)
        share = float((np.linalg.norm(scene - centres[None], axis=2).min(1) < 15).mean())
        distinct = float(np.exp(-10 * share))
    return fit * float(np.exp(-noise_sigma(rgb) / 8)) * distinct


class Catalogue:
    """Runs product lists into ``out``; ``engine`` builds the engine (on first need)."""

    def __init__(
        self,
        library: Library,
        engine: Callable[[], Engine],
        out: Path,
        brand: BrandKit | None = None,
        model: str | None = None,
        seed: int = 0,
        on_progress: Progress | None = None,
        record_extra: dict | None = None,
    ):
        self.library, self._engine = library, engine
        self.record_extra = record_extra or {}  # added to every record (the server's job id)
        self.out = Path(out).expanduser()
        self.brand = brand or BrandKit()
        self.model, self.seed = model, seed
        self.progress = on_progress or no_progress
        self.previous: dict[str, list[dict]] = {}

    def run(self, sheet: Sheet) -> CatalogueReport:
        """Every valid row of ``sheet``; a SKU that fails is reported and the rest still run.
        The manifest is rewritten after each SKU."""
        folder.check_writable(self.out)
        report = CatalogueReport(self.out, [], [str(p) for p in sheet.problems])
        self.previous = folder.read_manifest(self.out)
        total = len(sheet.products)
        self.progress("catalogue", 0, total)
        for done, product in enumerate(sheet.products, 1):
            try:
                sku = self.run_sku(product)
            except JobCancelled:
                raise
            except CinedraftError as exc:
                sku = SkuReport(product.sku, product.line, problem=str(exc))
            report.skus.append(sku)
            if sku.made or sku.problem:  # what a kill now would lose from the manifest
                folder.write_manifest(self.out, report)
            self.progress("catalogue", done, total)
        folder.write_manifest(self.out, report)
        return report

    # ------------------------------------------------------------------ one SKU

    def run_sku(self, product: Product) -> SkuReport:
        """One SKU's images and files; see the module docstring."""
        sku = _Sku(self, product)
        # 1. Drafts.
        drafts = sku.drafts()
        # 2. Best first.
        ranked = sorted(drafts, key=lambda a: -sku.score(a))
        # 3. Production, and the product put back and measured.
        hero, kept = sku.hero(ranked)
        # 4. Every aspect.
        aspects = {aspect: sku.aspect(hero, aspect, kept) for aspect in product.aspects}
        # 5. Files and manifest rows.
        previous = self.previous.get(product.sku, [])
        sku.report.files = folder.write_sku(
            self.out, product, ranked, hero, aspects, kept, previous
        )
        sku.step_done()
        return sku.report


class _Sku:
    """One SKU's run: its keys, what an earlier run stored, the steps' progress."""

    def __init__(self, run: Catalogue, product: Product):
        self.run, self.product, self.library = run, product, run.library
        self.report = SkuReport(product.sku, product.line)
        self.packshot = (
            self.library.resolve(str(product.packshot), "image") if product.packshot else None
        )
        self.digest = _digest(run, product, self.packshot)
        self.found = self.library.catalogue_outputs(self.digest + ":")
        self.steps = product.scenes + 3 + len(product.aspects)  # + production, lock, files
        self.done = 0
        self._cut: Cutout | None = None
        self._masks: dict[tuple[int, int], np.ndarray] = {}
        run.progress(product.sku, 0, self.steps)

    # ------------------------------------------------------------------ steps

    def drafts(self) -> list[Asset]:
        p, run = self.product, self.run
        prompt, negative = run.brand.prompt(p.prompt), run.brand.negative_prompt(p.negative)
        if self.packshot is None:
            request = ImageRequest(
                prompt=prompt,
                negative_prompt=negative,
                model=run.model,
                seed=run.seed,
                count=p.scenes,
            )
            ids = self._made(
                "drafts", lambda extra: run._engine().generate_image(request, None, extra).outputs
            )
            self.done += p.scenes - 1
            return [self.library.get(i) for i in ids]
        drafts = []
        with tempfile.TemporaryDirectory(prefix="cinedraft-catalogue-") as tmp:
            start = None
            for i in range(p.scenes):
                if f"{self.digest}:draft-{i}" not in self.found and start is None:
                    start = self._start(Path(tmp), prompt)
                request = (start or {}) | {"prompt": prompt, "negative_prompt": negative}
                drafts += self._draft(i, request)
        return drafts

    def _start(self, tmp: Path, prompt: str) -> dict:
        """The inpainting's start at the model's draft size: the placed product and the mask
        of everything around it, as files the edit request names."""
        engine = self.run._engine()
        plan = engine.image.plan(ImageRequest(prompt=prompt, model=self.run.model), None, None)
        placed = lock.place(self.cut(), plan.model.native_size)
        lock.canvas(placed).save(tmp / "canvas.png")
        lock.inpaint_mask(placed).save(tmp / "mask.png")
        return {"source": str(tmp / "canvas.png"), "mask": str(tmp / "mask.png")}

    def _draft(self, i: int, fields: dict) -> list[Asset]:
        def make(extra: dict) -> list:
            request = EditRequest(
                operation="inpaint",
                feather=lock.FEATHER_PX,
                strength=lock.STRENGTH,
                model=self.run.model,
                seed=self.run.seed + i,
                **fields,
            )
            return [self.run._engine().edit(request, None, extra).output]

        return [self.library.get(a) for a in self._made(f"draft-{i}", make)]

    def hero(self, ranked: list[Asset]) -> tuple[Asset, float | None]:
        """The production image: the best draft promoted; with a packshot, locked and
        measured, trying the next draft while the product is not kept."""
        overrides = Overrides(model=self.run.model) if self.run.model else None
        engine = self.run._engine
        failures = []
        for k, draft in enumerate(ranked[: LOCK_TRIES if self.packshot else 1]):
            production = self._made(
                f"production-{k}",
                lambda extra, d=draft: engine().promote(d.id, None, extra, overrides).outputs,
            )[0]
            if self.packshot is None:
                self.step_done()
                return self.library.get(production), None
            hero = self.library.get(
                self._made(f"lock-{k}", lambda x, p=production: self._lock(p, x))[0]
            )
            kept = _product_lock(hero)["product_ssim"]
            if kept >= lock.MIN_SSIM:
                return hero, kept
            failures.append(f"seed {draft.seed}: {kept:.3f}")
        raise InputError(
            f"the product was not kept (SSIM against the packshot below {lock.MIN_SSIM}: "
            f"{'; '.join(failures)}); is the packshot's backdrop plain?"
        )

    def _lock(self, production_id: str, extra: dict) -> list:
        production = self.library.get(production_id)
        with Image.open(production.path) as im:
            scene = im.convert("RGB")
        placed = lock.place(self.cut(), scene.size)
        image = lock.locked(scene, placed)
        record = AdjustRecord(
            asset_id=new_asset_id(),
            width=image.width,
            height=image.height,
            prompt=production.prompt,
            edit={
                "adjustments": [
                    {"kind": "contact_shadow", "strength": lock.SHADOW},
                    {
                        "kind": "product_lock",
                        "cutout": self.cut().to_record(),
                        "placed": placed.to_record(),
                        "product_ssim": lock.product_ssim(image, placed),
                    },
                ],
                "diffusion": False,
            },
            versions=_versions(),
            parents=[
                Parent(id=production.id, role="edit_of"),
                Parent(id=self.packshot.id, role="packshot"),
            ],
        )
        from ..engine.edits import kept_mark  # torch and diffusers: only when locking

        return self.library.add_images(
            [(image, record.to_dict() | extra, "png", 100)], keep_mark=kept_mark(production)
        )

    def aspect(self, hero: Asset, aspect: str, kept: float | None) -> tuple[Asset, float | None]:
        """``hero`` outpainted to ``aspect`` (itself when it has that aspect already), and
        what it kept of the product (None without a packshot); another seed while the
        product is not kept."""
        w, h = masks.parse_aspect(aspect)
        if abs(hero.width / hero.height - w / h) < 0.01:
            self.step_done()
            return hero, kept
        failures = []
        for k in range(LOCK_TRIES if kept is not None else 1):
            request = EditRequest(
                source=hero.id,
                operation="outpaint",
                aspect=aspect,
                prompt=hero.prompt,
                model=self.run.model,
                seed=self.run.seed + k,
            )
            step = f"aspect-{aspect}" + (f"-{k}" if k else "")
            made = self._made(
                step, lambda extra, r=request: [self.run._engine().edit(r, None, extra).output]
            )
            out = self.library.get(made[0])
            if kept is None:
                return out, None
            held = self._measured(out) or _kept_in(out, hero)
            if held >= lock.MIN_SSIM:
                return out, held
            failures.append(f"seed {request.seed}: {held:.3f}")
        raise InputError(
            f"the product was not kept at {aspect} (SSIM against the hero below "
            f"{lock.MIN_SSIM}: {'; '.join(failures)})"
        )

    def _measured(self, out: Asset) -> float | None:
        """What an earlier run measured of this very asset (its manifest row), so a resumed
        run does not decode every aspect again; the pixels of an asset never change."""
        for row in self.run.previous.get(self.product.sku, []):
            if row.get("asset_id") == out.id and row.get("role") == "aspect":
                ssim = row.get("product_ssim")
                return ssim if isinstance(ssim, (int, float)) else None
        return None

    def score(self, draft: Asset) -> float:
        """:func:`score` of a draft, with the product's mask when there is a packshot."""
        product = None
        if self.packshot is not None:
            size = (draft.width, draft.height)
            if size not in self._masks:  # every draft is the same size: place it once
                self._masks[size] = lock.place(self.cut(), size).alpha > 0.5
            product = self._masks[size]
        with Image.open(draft.path) as im:
            return score(im, self.run.brand.palette, product)

    # ------------------------------------------------------------------ bookkeeping

    def cut(self) -> Cutout:
        """The packshot's cut-out; kept in ``OUT/.cutouts/`` by the packshot's hash (GrabCut
        takes a fraction of a second a packshot; a resumed run reads it back)."""
        if self._cut is None:
            cache = self.run.out / ".cutouts" / f"{self.packshot.sha256[:32]}.png"
            with Image.open(self.packshot.path) as im:
                im.load()
                self._cut = cached_cut(as_shown(im), cache)
        return self._cut

    def _made(self, step: str, make: Callable[[dict], list]) -> list[str]:
        """The asset ids of ``step``: an earlier run's, else made now (``make`` gets the
        record fields that key them)."""
        key = f"{self.digest}:{step}"
        if key in self.found:
            self.report.reused += 1
        else:
            extra = {"catalogue": self.record(step, key)} | self.run.record_extra
            outputs = make(extra)
            self.found[key] = [getattr(o, "asset_id", None) or o.id for o in outputs]
            self.report.made += 1
        self.step_done()
        return self.found[key]

    def record(self, step: str, key: str) -> dict:
        return {
            "key": key,
            "step": step,
            "row": self.product.to_record(),
            "brand": self.run.brand.to_record(),
        }

    def step_done(self) -> None:
        self.done = min(self.steps, self.done + 1)
        self.run.progress(self.product.sku, self.done, self.steps)


def _product_lock(asset: Asset) -> dict:
    """The ``product_lock`` adjustment a locked hero's record holds (found by kind, not by
    its place in the list)."""
    return next(a for a in asset.record["edit"]["adjustments"] if a["kind"] == "product_lock")


def _kept_in(out: Asset, hero: Asset) -> float:
    """SSIM of the product's box of ``hero`` against the same pixels of its outpainted
    ``out`` (the outpaint's margins say where the hero sits)."""
    margins = out.record.get("edit", {}).get("margins", {})
    left, top = margins.get("left", 0), margins.get("top", 0)
    placed = _product_lock(hero)["placed"]["bbox"]
    x, y, w, h = placed
    with Image.open(hero.path) as a, Image.open(out.path) as b:
        here = np.asarray(a.convert("RGB"))
        there = np.asarray(b.convert("RGB"))[top : top + hero.height, left : left + hero.width]
    if there.shape != here.shape:
        return 0.0
    keep = np.zeros(here.shape[:2], bool)
    keep[y : y + h, x : x + w] = True
    return round(masked_ssim(here, there, keep) or 0.0, 4)


def _digest(run: Catalogue, product: Product, packshot: Asset | None) -> str:
    """What a SKU's outputs depend on, hashed: a change to any of it remakes the SKU."""
    facts = {
        "flow": FLOW,
        "row": product.fields,
        "scenes": product.scenes,
        "aspects": list(product.aspects),
        "packshot": packshot.sha256 if packshot else None,
        "brand": run.brand.to_record(),
        "model": run.model,
        "seed": run.seed,
    }
    text = json.dumps(facts, sort_keys=True)
    return f"{product.sku}/{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _versions() -> dict[str, str]:
    from ..engine.models import software_versions  # torch and diffusers: only when locking

    return software_versions()
