"""Reports of clarity measurements: PNG plots (matplotlib, Agg) and a self-contained HTML page.

Everything that comes from a user (prompts, file names) is HTML-escaped.
"""

from __future__ import annotations

import textwrap
from html import escape
from pathlib import Path

from . import HIGHER_IS_CLEARER

SHOWN = tuple(HIGHER_IS_CLEARER)  # every stored metric, in its order


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    from matplotlib import pyplot

    return pyplot


def write_plots(report: dict, out_dir: Path) -> list[Path]:
    """``factors.png`` (gain per factor) and ``sweeps.png`` (compression, steps)."""
    plt = _pyplot()
    paths = []
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=110)
    names = [f["factor"] for f in report["factors"]] + ["interaction", "production"]
    gains = [f["gain"] for f in report["factors"]]
    gains += [report["interaction"], report["total_gain"]]
    colours = ["#4c78a8"] * (len(names) - 2) + ["#9d9d9d", "#f58518"]
    ax.barh(names, gains, color=colours)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("sharpness gain over reference (Laplacian variance)")
    note = textwrap.fill(report["interaction_note"], 90)
    ax.set_title(f"What makes production clearer than the draft\n{note}", fontsize=8)
    paths.append(_save(plt, fig, out_dir / "factors.png"))

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2), dpi=110)
    for fmt in ("webp", "jpeg"):
        points = [s for s in report["sweep"] if s["format"] == fmt]
        left.plot(
            [s["quality"] for s in points],
            [s["detail_fidelity"] for s in points],
            marker="o",
            label=fmt,
        )
    left.axhline(0, color="#999999", linewidth=0.6)
    left.set_xlabel("delivery quality")
    left.set_ylabel("detail fidelity (1 = lossless)", fontsize=8)
    if min(s["detail_fidelity"] for s in report["sweep"]) < 0:
        left.text(
            0.02, 0.02, "below 0: the error adds more\nedge energy than the image has",
            transform=left.transAxes, fontsize=7, color="#444444",
        )  # fmt: skip
    left.set_title("Compression of the production image")
    left.legend()
    right.plot(
        [s["steps"] for s in report["steps_sweep"]],
        [s["metrics"]["sharpness"] for s in report["steps_sweep"]],
        marker="o",
    )
    right.set_xscale("log", base=2)
    right.set_xlabel("sampling steps (production tier)")
    right.set_ylabel("sharpness")
    right.set_title("Sampling iterations")
    paths.append(_save(plt, fig, out_dir / "sweeps.png"))
    return paths


def _save(plt, fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _row(cells: list, header: bool = False) -> str:
    tag = "th" if header else "td"
    return "<tr>" + "".join(f"<{tag}>{escape(str(c))}</{tag}>" for c in cells) + "</tr>"


def write_html(report: dict, out_dir: Path) -> Path:
    """``report.html``: the verdict, the factor table, the runs with images, the plots."""
    factors = [_row(["factor", "change", "gain", "x reference", "share of total"], header=True)]
    for f in sorted(report["factors"], key=lambda f: -f["gain"]):
        share = "" if f["share"] is None else f"{f['share']:.0%}"
        factors.append(_row([f["factor"], f["change"], f"{f['gain']:.6f}", f["ratio"], share]))
    share = report["interaction_share"]
    factors.append(
        _row(
            [
                "interaction",
                "not explained by one factor alone",
                f"{report['interaction']:.6f}",
                "",
                "" if share is None else f"{share:.0%}",
            ]
        )
    )
    runs = [_row(["run", "image", "bytes", *SHOWN], header=True)]
    for name, run in report["runs"].items():
        cells = "".join(f"<td>{run['metrics'][m]:.4g}</td>" for m in SHOWN)
        runs.append(
            f'<tr><td>{escape(name)}</td><td><img src="{escape(run["file"])}" width=128></td>'
            f"<td>{run['bytes']}</td>{cells}</tr>"
        )
    sweep = [
        _row(
            ["format", "quality", "bytes", "detail fidelity", "PSNR dB", "sharpness", "blockiness"],
            header=True,
        )
    ]
    for point in report["sweep"]:
        sweep.append(
            _row(
                [
                    point["format"],
                    point["quality"],
                    point["bytes"],
                    point["detail_fidelity"],
                    point["psnr"],
                    f"{point['metrics']['sharpness']:.4g}",
                    f"{point['metrics']['blockiness']:.3f}",
                ]
            )
        )
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>cinedraft clarity lab</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:60em}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px}}
img{{image-rendering:pixelated}}</style></head><body>
<h1>Clarity lab: factors</h1>
<p>Prompt: <b>{escape(report["prompt"])}</b>, seed {report["seed"]}. Measured as delivered, at
{report["display_size"][0]}x{report["display_size"][1]}. Score: sharpness (variance of the
Laplacian). Draft {report["baseline"]:.6f} &rarr; production {report["production"]:.6f}
(gain {report["total_gain"]:.6f}). Shares add up to 100 % with the interaction:
{escape(report["interaction_note"])}.</p>
<table>{"".join(factors)}</table>
<img src="factors.png" alt="gain per factor">
<img src="sweeps.png" alt="compression and steps sweeps">
<h2>Runs</h2><table>{"".join(runs)}</table>
<h2>Delivery quality</h2>
<p>No-reference sharpness counts compression artifacts as detail; detail fidelity (against
the lossless image) and PSNR do not. Detail fidelity is 1 - (the error's Laplacian energy /
the image's): 1 is lossless, 0 means the error carries as much edge energy as the image
itself, and below 0 (a low quality on a smooth image) it carries more.</p>
<table>{"".join(sweep)}</table>
</body></html>
"""
    path = out_dir / "report.html"
    path.write_text(page)
    return path
