"""A tiny smoke run of the benchmark harness (the full run is `make benchmark`, not part of CI)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_smoke():
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke"], capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    assert any("liverannot classify nn" in line and " ok " in f" {line} " for line in lines), r.stdout
    assert any("liverannot classify rf" in line for line in lines), r.stdout
