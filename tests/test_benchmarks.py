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
        {"species": "human", "method": "liverannot nn", "status": "ok", "lineage_accuracy": 0.95,
         "forced_lineage_accuracy": 0.955, "nonliver_unassigned": 0.9, "seconds_median": 1.5},
        {"species": "human", "method": "liverannot rf", "status": "ok", "lineage_accuracy": 0.94,
         "forced_lineage_accuracy": 0.96, "nonliver_unassigned": 0.8, "seconds_median": 2.5},
        {"species": "human", "method": "SingleR", "status": "ok", "lineage_accuracy": 0.97,
         "forced_lineage_accuracy": 0.97, "nonliver_unassigned": 0.0, "seconds_median": 40.0},
        {"species": "human", "method": "CellTypist", "status": "ok", "lineage_accuracy": 0.94,
         "forced_lineage_accuracy": 0.94, "nonliver_unassigned": 0.0, "seconds_median": 2.0},
        {"species": "human", "method": "ingest", "status": "failed"},
        {"species": "mouse", "method": "liverannot nn", "status": "ok", "lineage_accuracy": 0.89,
         "forced_lineage_accuracy": 0.91, "nonliver_unassigned": 0.9, "seconds_median": 1.0},
        {"species": "mouse", "method": "SingleR", "status": "ok", "lineage_accuracy": 0.90,
         "forced_lineage_accuracy": 0.90, "nonliver_unassigned": 0.0, "seconds_median": 30.0},
    ])
    text = run.goals_accuracy(acc).splitlines()
    # liverannot's best model by its best liver call; its answer with Unassigned is reported beside it
    assert "liverannot rf: best liver call 0.960 (with Unassigned answers 0.940; non-liver cells Unassigned 0.80)" in text[0]
    assert "Best peer: SingleR, 0.970" in text[0]
    assert "Peers more accurate: SingleR (0.970); peers faster: CellTypist." in text[0] and text[0].endswith(": misses.")
    # mouse: the best call beats SingleR's call although the answer with Unassigned (0.89) is below its 0.90
    assert "liverannot nn: best liver call 0.910" in text[1]
    assert "Peers more accurate: none; peers faster: none." in text[1] and text[1].endswith(": meets.")
    sc = pd.DataFrame([
        {"cells": 1_000_000, "method": "liverannot classify nn", "status": "ok", "seconds_median": 160.0, "peak_rss_mb": 2100.0},
        {"cells": 1_000_000, "method": "liverannot classify rf", "status": "ok", "seconds_median": 200.0, "peak_rss_mb": 2100.0},
        {"cells": 10_000, "method": "liverannot classify rf", "status": "ok", "seconds_median": 3.0, "peak_rss_mb": 900.0},
    ])
    goals = run.goals_scale(sc).splitlines()
    assert len(goals) == 2 and "nn, 1M cells: 160 s" in goals[0] and ": meets" in goals[0] and ": misses" in goals[1]
