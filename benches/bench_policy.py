"""Usage-policy and audit-trail benchmarks, baseline and ours side by side in one run.

1. Policy check: a 1,000-name policy (brands and people, a few exact-case) over a wildcard
   template of 200 expansions, per prompt. Baseline: the obvious check, every name looked
   for in every prompt as a lower-cased substring (which is also wrong: it finds "Nike" in
   "Nikeland"). Ours: one compiled pattern per case mode, words not substrings, weighting
   and disguises seen through. Target: < 5 ms a prompt.
2. Audit write per image: appending a hash-chained entry (one transaction), against storing
   the image it is about (the library's write path, provenance off). Target: < 1 ms.

    python benches/bench_policy.py [--quick]   (--quick: fewer rounds: a smoke run)
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402

from cinedraft.library import Library  # noqa: E402
from cinedraft.library.audit import AuditEntry  # noqa: E402
from cinedraft.policy import expansions, load_policy  # noqa: E402

SYLLABLES = ["ka", "lo", "ne", "vi", "tor", "sa", "mi", "rex", "qu", "an", "zo", "bel"]


def _policy(root: Path, names: int) -> Path:
    rng = random.Random(0)
    made = sorted(
        {"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(names * 2)}
    )[:names]
    people = [f"{a.title()} {b.title()}" for a, b in zip(made[::2], made[1::2])][: names // 10]
    brands = made[: names - len(people)]
    text = (
        f"[[rule]]\nnames = {brands[:-20]!r}\naction = 'block'\nkind = 'brand'\n\n"
        f"[[rule]]\nnames = {people!r}\naction = 'block'\nkind = 'person'\n\n"
        f"[[rule]]\nnames = {[b.title() for b in brands[-20:]]!r}\naction = 'flag'\n"
        "case = 'exact'\n"
    )
    path = root / "policy.toml"
    path.write_text(text)
    return path


TEMPLATE = (
    "a {red|blue|green|golden|matte black} {bottle|jar|sneaker|watch|lamp} "
    "on a {glass|marble|oak|steel} table, {studio lighting|soft daylight}"
)  # 5 x 5 x 4 x 2 = 200 expansions


def policy_check(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        policy = load_policy(_policy(Path(tmp), 1000))
    prompts = expansions(TEMPLATE)
    names = [n.lower() for rule in policy.rules for n in rule.names]
    assert len(prompts) == 200 and len(names) == 1000

    def baseline() -> float:
        t0 = time.perf_counter()
        for prompt in prompts:
            low = prompt.lower()
            _ = [n for n in names if n in low]
        return (time.perf_counter() - t0) / len(prompts)

    def ours() -> float:
        t0 = time.perf_counter()
        policy.check_request(TEMPLATE, template=True)  # expansion included
        return (time.perf_counter() - t0) / len(prompts)

    base = statistics.median(baseline() for _ in range(rounds))
    mine = statistics.median(ours() for _ in range(rounds))
    print("1. policy check, 1,000 names over a 200-expansion template, per prompt")
    print(f"   substring loop (baseline): {base * 1000:.3f} ms")
    print(f"   compiled word patterns (ours): {mine * 1000:.3f} ms")
    print(f"   ours/baseline = {mine / base:.2f}; ours {mine * 1000:.3f} ms (target < 5 ms)")


def audit_write(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        library = Library(Path(tmp) / "library", provenance=False)
        image = Image.new("RGB", (256, 256), (120, 80, 40))
        record = {  # what a draft's record holds that the file's metadata writes
            "kind": "image",
            "prompt": "a jar",
            "model": "builtin",
            "model_hash": "1" * 64,
            "tier": "draft",
            "steps": 8,
            "sampler": "DPM++ 2M",
            "guidance": 4.0,
            "seed": 1,
            "width": 256,
            "height": 256,
            "versions": {"cinedraft": "bench"},
        }
        t0 = time.perf_counter()
        assets = [
            library.add_images([(image, record | {"asset_id": library.new_id()}, "webp", 80)])[0]
            for _ in range(count)
        ]
        store = (time.perf_counter() - t0) / count
        t0 = time.perf_counter()
        for asset in assets:
            library.audit(
                AuditEntry(
                    at="2026-12-05T00:00:00Z",
                    actor="bench",
                    action="generate",
                    assets=[asset.id],
                    request_hash="0" * 64,
                    model="builtin",
                    model_hash="1" * 64,
                )
            )
        write = (time.perf_counter() - t0) / count
        assert library.audit_verify() == (count, [])
        library.close()
    print(f"2. audit write per image ({count} images)")
    print(f"   storing the image (baseline): {store * 1000:.2f} ms")
    print(f"   appending its audit entry (ours): {write * 1000:.3f} ms")
    print(f"   ours/baseline = {write / store:.3f}; ours {write * 1000:.3f} ms (target < 1 ms)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="Fewer rounds: a smoke run.")
    quick = parser.parse_args().quick
    policy_check(3 if quick else 21)
    audit_write(20 if quick else 300)


if __name__ == "__main__":
    main()
