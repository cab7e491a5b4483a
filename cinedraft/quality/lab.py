"""The factors experiment: which factor makes production clearer than a draft, and by how much.

Starting from the model's draft tier, one factor at a time is switched to its production
value, on the same prompt and seed:

- **steps**: sampling iterations;
- **resolution**: output size, enlarged by plain Lanczos (no sharpening, no refine);
- **pipeline**: the rendering pipeline (sharpening upscale, diffusion refine, cleanup), on
  top of the production resolution, so its share is measured against the resolution run;
- **compression**: the delivered file format and quality;
- **model**: the production model, when it differs from the draft model.

Then the full production tier, and two sweeps on the production tier: sampling steps, and
delivery quality (with detail fidelity against the lossless image and PSNR, because
no-reference sharpness counts compression artifacts as detail).
Every image is measured as delivered (encoded, decoded) at the production display size (a
smaller image is enlarged bicubically first, as a viewer's screen would), so the numbers
compare what a person sees. The score is Laplacian-variance sharpness; the other metrics are
reported beside it. Shares: each factor's gain over its reference divided by the gain of the
full production tier; what the single factors do not explain is the interaction, shown as a
row of its own so the shares add up to 100 %. It is negative when the factors overlap (the
pipeline's gain is measured on top of the production resolution, the others alone).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from PIL import Image

from ..request import ImageRequest, Overrides, no_progress
from ..tiers import Tier
from .metrics import detail_fidelity, image_metrics, psnr

SWEEP = (
    ("webp", 10),
    ("webp", 30),
    ("webp", 60),
    ("webp", 90),
    ("jpeg", 10),
    ("jpeg", 30),
    ("jpeg", 60),
    ("jpeg", 90),
    ("png", 100),
)
STEPS = (1, 2, 4, 8, 16)  # plus the production tier's own


@dataclass
class Run:
    """One rendered variant and its measurements."""

    factor: str
    change: str
    reference: str  # the run this one is compared with
    tier: dict
    model: str
    metrics: dict
    bytes: int
    file: str = ""


def delivered(image: Image.Image, fmt: str, quality: int) -> tuple[Image.Image, int]:
    """``image`` after encoding as ``fmt``/``quality`` (no metadata) and decoding again; and
    the byte count."""
    buf = io.BytesIO()
    image.convert("RGB").save(buf, fmt.upper(), **({} if fmt == "png" else {"quality": quality}))
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        return im.convert("RGB"), buf.tell()


def run_factors(
    engine,
    prompt: str,
    seed: int,
    out_dir: Path,
    model: str | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
    overrides: Overrides | None = None,
) -> dict:
    """Run the experiment, write images, ``report.json``, plots and ``report.html``.

    ``overrides``: ``model`` replaces both tiers' models; ``guidance`` and ``scheduler``
    apply to both tiers (the sampler is held constant while the factors vary); ``steps`` is
    the production tier's (the steps factor then goes from the draft's to it)."""
    overrides = overrides or Overrides()
    model = overrides.model or model
    progress = on_progress or no_progress
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    draft_ref = model or engine.settings.model_for("draft")
    prod_ref = model or engine.settings.model_for("production")
    family = engine.models.get(draft_ref).family
    sampler = {"guidance": overrides.guidance, "scheduler": overrides.scheduler}
    draft = family.tiers["draft"].with_overrides(**sampler)
    prod = family.tiers["production"].with_overrides(**sampler, steps=overrides.steps)
    prod_family = engine.models.get(prod_ref).family
    production = prod_family.tiers["production"].with_overrides(**sampler, steps=overrides.steps)
    native = engine.models.get(prod_ref).native_size
    display = (
        native[0] * production.upscale,
        native[1] * production.upscale,
    )
    # 1. The variants, each one change away from its reference.
    variants: list[tuple[str, str, str, Tier, str]] = [
        ("baseline", "the draft tier", "baseline", draft, draft_ref),
        (
            "steps",
            f"{draft.steps} -> {prod.steps} sampling steps",
            "baseline",
            replace(draft, steps=prod.steps),
            draft_ref,
        ),
        (
            "resolution",
            f"x{draft.upscale} -> x{prod.upscale} output size (plain Lanczos)",
            "baseline",
            replace(draft, upscale=prod.upscale, sharpen=0.0, refine_strength=0.0, cleanup=False),
            draft_ref,
        ),
        (
            "pipeline",
            "sharpening upscale + diffusion refine + cleanup",
            "resolution",
            replace(
                draft,
                upscale=prod.upscale,
                sharpen=prod.sharpen,
                refine_strength=prod.refine_strength,
                refine_steps=prod.refine_steps,
                refine_max_side=prod.refine_max_side,
                cleanup=prod.cleanup,
            ),
            draft_ref,
        ),
        (
            "compression",
            f"{draft.format} q{draft.quality} -> {prod.format} q{prod.quality}",
            "baseline",
            replace(draft, format=prod.format, quality=prod.quality),
            draft_ref,
        ),
    ]
    if prod_ref != draft_ref:
        variants.append(
            (
                "model",
                f"{draft_ref} -> {prod_ref}",
                "baseline",
                prod_family.tiers["draft"].with_overrides(**sampler),
                prod_ref,
            )
        )
    variants.append(("production", "the production tier", "baseline", production, prod_ref))
    # 2. Render, deliver, measure.
    runs: dict[str, Run] = {}
    finals: dict[str, Image.Image] = {}
    for i, (factor, change, reference, tier, model_ref) in enumerate(variants):
        request = ImageRequest(prompt=prompt, seed=seed, model=model_ref, tier=tier.name)
        item = engine.render_images(request, no_progress, tier=tier)[0]
        image, size = delivered(item.image, tier.format, tier.quality)
        finals[factor] = item.image
        path = out_dir / f"{factor}.png"
        image.save(path)
        runs[factor] = Run(
            factor,
            change,
            reference,
            asdict(tier),
            model_ref,
            _measure(image, display),
            size,
            path.name,
        )
        progress("lab", i + 1, len(variants))
    # 3. Sweeps on the production tier: sampling steps, then delivery quality.
    # (each its own progress stage: the renders are the slow part, and were silent)
    steps = []
    counts = sorted({*STEPS, production.steps})
    for i, n in enumerate(counts):
        request = ImageRequest(prompt=prompt, seed=seed, model=prod_ref, tier="production")
        item = engine.render_images(request, no_progress, tier=replace(production, steps=n))[0]
        steps.append({"steps": n, "metrics": _measure(item.image, display)})
        progress("steps sweep", i + 1, len(counts))
    sweep = []
    lossless = finals["production"]
    for i, (fmt, quality) in enumerate(SWEEP):
        progress("quality sweep", i + 1, len(SWEEP))
        image, size = delivered(lossless, fmt, quality)
        sweep.append(
            {
                "format": fmt,
                "quality": quality,
                "bytes": size,
                "metrics": _measure(image, display),
                "detail_fidelity": round(detail_fidelity(lossless, image), 4),
                "psnr": round(min(psnr(lossless, image), 99.0), 2),
            }
        )
    report = _attribute(prompt, seed, display, runs, sweep) | {"steps_sweep": steps}
    # 4. Files.
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    from .report import write_html, write_plots  # matplotlib: only when a report is written

    write_plots(report, out_dir)
    write_html(report, out_dir)
    return report


def _measure(image: Image.Image, display: tuple[int, int]) -> dict:
    if image.size != display:
        image = image.resize(display, Image.Resampling.BICUBIC)
    return {k: round(v, 6) for k, v in image_metrics(image).items()}


def _interaction_note(explained: float, total: float) -> str:
    """The sentence the table, the plot and the page show under the shares."""
    if not total:
        return "the full production tier gained nothing over the draft"
    part = explained / total
    if part > 1.005:
        return (
            f"the single factors' gains add up to {part:.0%} of the full tier's: they overlap "
            f"(each was measured alone), so the interaction is {1 - part:.0%}"
        )
    return f"the single factors explain {part:.0%}; the interaction is the other {1 - part:.0%}"


def _attribute(prompt, seed, display, runs: dict[str, Run], sweep: list[dict]) -> dict:
    """Each factor's sharpness gain over its reference, and its share of the full gain."""
    score = {name: run.metrics["sharpness"] for name, run in runs.items()}
    total = score["production"] - score["baseline"]
    factors = []
    for name, run in runs.items():
        if name in ("baseline", "production"):
            continue
        gain = score[name] - score[run.reference]
        factors.append(
            {
                "factor": name,
                "change": run.change,
                "gain": round(gain, 6),
                "ratio": round(score[name] / score[run.reference], 3)
                if score[run.reference]
                else None,
                "share": round(gain / total, 3) if total else None,
            }
        )
    explained = sum(f["gain"] for f in factors)
    interaction = total - explained
    return {
        "prompt": prompt,
        "seed": seed,
        "display_size": list(display),
        "score": "sharpness",
        "baseline": score["baseline"],
        "production": score["production"],
        "total_gain": round(total, 6),
        # what the single factors do not explain; negative when they overlap (each was
        # measured alone, and their gains together exceed the full tier's)
        "interaction": round(interaction, 6),
        "interaction_share": round(interaction / total, 3) if total else None,
        "interaction_note": _interaction_note(explained, total),
        "factors": factors,
        "runs": {k: asdict(v) for k, v in runs.items()},
        "sweep": sweep,
    }
