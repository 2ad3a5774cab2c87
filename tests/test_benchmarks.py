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


def test_goal_summaries_name_the_peers_that_beat_liverannot():
    import pandas as pd

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run

    acc = pd.DataFrame([
        {"species": "human", "method": "liverannot nn", "status": "ok", "lineage_accuracy": 0.95, "seconds_median": 1.5},
        {"species": "human", "method": "liverannot rf", "status": "ok", "lineage_accuracy": 0.96, "seconds_median": 2.5},
        {"species": "human", "method": "SingleR", "status": "ok", "lineage_accuracy": 0.97, "seconds_median": 40.0},
        {"species": "human", "method": "CellTypist", "status": "ok", "lineage_accuracy": 0.94, "seconds_median": 2.0},
        {"species": "human", "method": "ingest", "status": "failed"},
        {"species": "mouse", "method": "liverannot nn", "status": "ok", "lineage_accuracy": 0.91, "seconds_median": 1.0},
        {"species": "mouse", "method": "SingleR", "status": "ok", "lineage_accuracy": 0.90, "seconds_median": 30.0},
    ])
    text = run.goals_accuracy(acc).splitlines()
    assert "liverannot rf has lineage accuracy 0.960" in text[0]
    assert "Peers more accurate: SingleR (0.970); peers faster: CellTypist." in text[0]
    assert "Peers more accurate: none; peers faster: none." in text[1]
    sc = pd.DataFrame([
        {"cells": 1_000_000, "method": "liverannot classify nn", "status": "ok", "seconds_median": 160.0, "peak_rss_mb": 2100.0},
        {"cells": 1_000_000, "method": "liverannot classify rf", "status": "ok", "seconds_median": 200.0, "peak_rss_mb": 2100.0},
        {"cells": 10_000, "method": "liverannot classify rf", "status": "ok", "seconds_median": 3.0, "peak_rss_mb": 900.0},
    ])
    goals = run.goals_scale(sc).splitlines()
    assert len(goals) == 2 and "nn, 1M cells: 160 s" in goals[0] and ": meets" in goals[0] and ": misses" in goals[1]
