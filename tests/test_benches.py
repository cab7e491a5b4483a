"""Every benchmark runs to the end in its ``--quick`` mode (toy sizes), so a bench that
breaks fails CI instead of rotting until someone runs ``make bench``. Figures are not
checked here: quick runs are too small to mean anything."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
EXPECTED = {  # a line each part prints at its end
    "bench_edit": "storing cost per turn",
    "bench_engine": "production/draft per image",
    "bench_library": "+sign+watermark",
    "bench_models": "(target <= 1.05)",
    "bench_policy": "(target < 1 ms)",
    "bench_startup": "submit to done",
    "bench_quality": "RRDBNet",
    "bench_scale": "s/image on a GPU",
    "bench_editor": "smart render is",
    "bench_server": "target p99 <= 50 ms",
    "bench_video": "target <= 2.5",
}


@pytest.mark.parametrize("bench", sorted(EXPECTED))
def test_bench_runs_to_the_end(bench, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TMPDIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benches" / f"{bench}.py"), "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert EXPECTED[bench] in proc.stdout, proc.stdout[-2000:]
