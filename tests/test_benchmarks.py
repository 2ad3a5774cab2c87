"""A tiny smoke run of the benchmark harness (the full run is `make benchmark`, not part of CI)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from conftest import SHARED, needs_shared  # noqa: E402


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
        {"cells": 1_000_000, "method": "liverannot classify nn", "status": "ok", "seconds_median": 40.0,
         "peak_rss_mb_median": 1900.0, "peak_rss_mb_max": 2000.0},
        {"cells": 1_000_000, "method": "liverannot classify rf", "status": "ok", "seconds_median": 44.0,
         "peak_rss_mb_median": 1900.0, "peak_rss_mb_max": 2100.0},
        {"cells": 10_000, "method": "liverannot classify rf", "status": "ok", "seconds_median": 3.0,
         "peak_rss_mb_median": 900.0, "peak_rss_mb_max": 900.0},
    ])
    goals = run.goals_scale(sc).splitlines()
    assert len(goals) == 2 and "nn, 1M cells: 40 s" in goals[0]
    assert goals[0].endswith(": meets the goal of at most 45 s; meets the goal of at most 2,048 MB.")
    # the memory goal (2 GB) holds for every run: the largest peak decides, not the median (1,900 MB);
    # time and memory are judged apart
    assert "2,100 MB peak RSS (largest of the runs)" in goals[1]
    assert goals[1].endswith(": meets the goal of at most 45 s; misses the goal of at most 2,048 MB.")


def test_run_goals_name_the_largest_steps_and_judge_time_and_memory():
    import pandas as pd

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import run

    e2e = pd.DataFrame([
        {"cells": 10_000, "what": "liverannot run (MultiQC excluded)", "status": "ok", "seconds_median": 9.5,
         "peak_rss_mb_max": 1500.0, "qc_s": 1.0, "cluster_s": 6.0, "classify_s": 2.0, "write_s": 0.5},
        {"cells": 10_000, "what": "liverannot run with MultiQC", "status": "ok", "seconds_median": 30.0,
         "peak_rss_mb_max": 1500.0},
        {"cells": 100_000, "what": "liverannot run (MultiQC excluded)", "status": "ok", "seconds_median": 58.0,
         "peak_rss_mb_max": 4500.0, "qc_s": 9.0, "cluster_s": 40.0, "classify_s": 5.0, "cluster_pca_s": 6.0,
         "cluster_umap_s": 20.0, "cluster_neighbors_s": 3.0},
    ])
    lines = run.goals_run(e2e).splitlines()
    assert len(lines) == 2  # the row with MultiQC is not judged
    assert "10,000 cells: 9.5 s" in lines[0] and "; meets the goal of at most 10 s." in lines[0]
    assert "Largest steps: cluster 6.0 s, classify 2.0 s, qc 1.0 s; outside the steps" in lines[0]
    # the cluster step's parts, largest first, where the summaries gave them
    assert "Largest steps: cluster 40.0 s, qc 9.0 s, classify 5.0 s; in cluster: umap 20.0 s, pca 6.0 s, " \
           "neighbors 3.0 s; " in lines[1]
    # what no step covers: the run's seconds less its steps' (10k: 9.5 - 9.5; 100k: 58 - 54)
    assert lines[0].endswith("outside the steps (start-up, imports, reading the input, summary) 0.0 s.")
    assert lines[1].endswith("outside the steps (start-up, imports, reading the input, summary) 4.0 s.")
    # in time, but over in memory: each part judged on its own
    assert "; meets the goal of at most 60 s; misses the goal of at most 4,096 MB." in lines[1]
    e2e.loc[2, ["seconds_median", "peak_rss_mb_max"]] = [61.0, 3000.0]
    assert "; misses the goal of at most 60 s; meets the goal of at most 4,096 MB." in run.goals_run(e2e).splitlines()[1]


def test_first_run_goals_judge_the_installed_and_container_runs_against_warm():
    import pandas as pd

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import run

    fr = pd.DataFrame([
        {"cells": 10_000, "what": "first run, empty numba cache (no precompile)", "status": "ok", "seconds_median": 30.0,
         "ratio_to_warm": 2.5},
        {"cells": 10_000, "what": "first run after liverannot precompile", "status": "ok", "seconds_median": 13.0,
         "ratio_to_warm": 13 / 12},
        {"cells": 10_000, "what": "warm run", "status": "ok", "seconds_median": 12.0, "ratio_to_warm": 1.0},
        {"cells": 10_000, "what": "fresh container (podman run --rm), image's precompiled cache", "status": "ok",
         "seconds_median": 16.0, "ratio_to_warm": 16 / 12},
    ])
    lines = run.goals_first_run(fr).splitlines()
    assert len(lines) == 3  # the warm run is the reference, not judged
    assert "2.50 times a warm run" in lines[0] and "goal" not in lines[0]  # how it was before: not a goal
    assert "1.08 times a warm run: meets the goal of at most 1.3 times" in lines[1]
    assert "1.33 times a warm run: misses the goal" in lines[2]
    assert "not measured" in run.goals_first_run(None)


def test_scores_of_prediction_files_lineage_best_call_and_fine_labels(tmp_path):
    """liverannot's calls and a peer's class labels are scored the same way: lineage from the class,
    Unassigned counted wrong on liver types, fine labels only where eval_labels names comparable classes
    (the blood 'plasmablasts' express B-cell genes: no fine label)."""
    import anndata as ad
    import numpy as np
    import pandas as pd

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run
    from liverannot.evaluate import expected_classes, expected_lineages

    name = "human_zanini2018_blood"
    cell_types = ["pDC", "pDC", "cDC", "classical monocyte", "plasmablast"]
    q = ad.AnnData(np.zeros((5, 1), dtype=np.float32))
    q.obs_names = [f"c{i}" for i in range(5)]
    q.obs["dataset"] = name
    q.obs["expected_lineage"] = expected_lineages(name, cell_types)
    q.obs["expected_classes"] = expected_classes(name, cell_types)
    lin = {"Plasmacytoid.dendritic.cells": "myeloid", "Conventional.dendritic.cells": "myeloid",
           "Antibody.secreting.B.cells": "b_plasma", "Inflammatory.macrophages": "myeloid", "Mature.B.cells": "b_plasma"}
    peer = tmp_path / "peer.csv"
    labels = ["Plasmacytoid.dendritic.cells", "Antibody.secreting.B.cells", "Conventional.dendritic.cells",
              "Inflammatory.macrophages", "Antibody.secreting.B.cells"]
    # rows in another order than the query's: scores follow the cell names
    pd.DataFrame({"label": labels[::-1]}, index=q.obs_names[::-1]).to_csv(peer)
    s = run.score_predictions(peer, q, lin)
    assert s["lineage_accuracy"] == s["forced_lineage_accuracy"] == 0.8   # the second pDC called plasma
    assert s["fine_cells"] == 4 and s["fine_accuracy"] == 0.75
    ours = tmp_path / "ours.csv"
    pd.DataFrame({"liver_lineage": ["myeloid", "unassigned", "myeloid", "myeloid", "b_plasma"],
                  "liver_best_lineage": ["myeloid", "myeloid", "myeloid", "myeloid", "b_plasma"],
                  "liver_best_celltype": ["Plasmacytoid.dendritic.cells", "Inflammatory.macrophages",
                                          "Conventional.dendritic.cells", "Inflammatory.macrophages", "Mature.B.cells"]},
                 index=q.obs_names).to_csv(ours)
    s = run.score_predictions(ours, q, lin)
    assert s["lineage_accuracy"] == 0.8 and s["forced_lineage_accuracy"] == 1.0
    assert s["fine_accuracy"] == 0.75   # the second pDC's best class is a macrophage


def test_scale_runs_every_peer_of_the_accuracy_table(monkeypatch):
    """The scale table must cover the same peers as the accuracy table (the Spearman baseline only up
    to 10k cells), each fed its own training input."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run

    monkeypatch.setattr(run, "peer_python", lambda name: f"/venvs/{name}/bin/python")
    at10k = dict(run.scale_peer_commands(10_000))
    assert set(at10k) == {"published RF (dense)", "published MLP-256 (dense)", "Spearman baseline",
                          "CellTypist", "SingleR (PyPI singler)", "scanpy ingest"}
    assert at10k["SingleR (PyPI singler)"][-1].endswith("profiles.h5ad")
    assert at10k["CellTypist"][0] == "/venvs/celltypist/bin/python" and at10k["CellTypist"][-1].endswith("train.h5ad")
    assert set(dict(run.scale_peer_commands(100_000))) == set(at10k) - {"Spearman baseline"}
    # a peer whose environment cannot be installed is left out, not failed
    monkeypatch.setattr(run, "peer_python", lambda name: None if name == "singler" else f"/venvs/{name}/bin/python")
    assert "SingleR (PyPI singler)" not in dict(run.scale_peer_commands(10_000))


def test_repeat_reads_each_successful_run_and_stops_at_a_failure(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run

    monkeypatch.setattr(run, "OUT", tmp_path)
    seen = []
    runs = run.repeat([sys.executable, "-c", "print(1)"], 3, after_each=lambda: seen.append(1))
    assert [r["rc"] for r in runs] == [0, 0, 0] and len(seen) == 3
    seen.clear()
    runs = run.repeat([sys.executable, "-c", "raise SystemExit(2)"], 3, after_each=lambda: seen.append(1))
    assert [r["rc"] for r in runs] == [2] and seen == []


def test_a_run_over_its_time_limit_is_a_failed_run_and_its_children_are_stopped(tmp_path, monkeypatch):
    import time

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run

    monkeypatch.setattr(run, "OUT", tmp_path)
    pidfile = tmp_path / "pid"
    child = f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    t0 = time.perf_counter()
    runs = run.repeat([sys.executable, "-c", child], 3, timeout=3)
    assert time.perf_counter() - t0 < 30
    assert len(runs) == 1 and runs[0]["rc"] != 0 and "timed out after 3 s" in runs[0]["stderr"]
    row = run.scale_row(10, "slow peer", runs)
    assert row["status"].startswith("failed") and "timed out" in row["status"]
    pid = int(pidfile.read_text())
    for _ in range(50):  # killed: gone, or a zombie until something reaps it
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            break
        if state in ("Z", "X"):
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"the timed-out command (pid {pid}) is still running")


def test_scale_summary_compares_liverannot_with_every_peer_and_says_why_none_runs_at_1m():
    import pandas as pd

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run

    ok = {"status": "ok", "runs": 3}
    sc = pd.DataFrame([
        {"cells": 10_000, "method": "liverannot classify nn", "seconds_median": 2.0, "peak_rss_mb_median": 600, **ok},
        {"cells": 10_000, "method": "liverannot classify rf", "seconds_median": 4.0, "peak_rss_mb_median": 800, **ok},
        {"cells": 10_000, "method": "SingleR (train + predict)", "seconds_median": 1.5, "peak_rss_mb_median": 2000, **ok},
        {"cells": 10_000, "method": "ingest (train + predict)", "status": "failed: timed out after 1800 s"},
        {"cells": 100_000, "method": "liverannot classify nn", "seconds_median": 13.0, "peak_rss_mb_median": 1300, **ok},
        {"cells": 100_000, "method": "SingleR (train + predict)", "seconds_median": 80.0, "peak_rss_mb_median": 19000, **ok},
        {"cells": 100_000, "method": "CellTypist (train + predict)", "seconds_median": 56.0, "peak_rss_mb_median": 9700, **ok},
        {"cells": 1_000_000, "method": "liverannot classify nn", "seconds_median": 116.0, "peak_rss_mb_median": 1480, **ok},
    ])
    lines = run.scale_peers_summary(sc).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("- 10,000 cells: liverannot classify nn 2.0 s, 600–800 MB")
    assert "1 peer 1.5–1.5 s (fastest: SingleR (train + predict))" in lines[0]   # the failed peer is not counted
    assert "Every peer slower: no" in lines[0] and "Failed: ingest (train + predict)." in lines[0]
    assert "2 peers 56–80 s (fastest: CellTypist (train + predict)), 9,700–19,000 MB" in lines[1]
    assert "Every peer slower: yes; every peer uses more memory: yes." in lines[1]
    assert lines[2].startswith("- No peer is run at 1,000,000 cells: at 100,000 they already peak at 9,700–19,000 MB")


def test_predict_only_rows_cover_every_peer_and_train_each_once(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run

    monkeypatch.setattr(run, "OUT", tmp_path)
    monkeypatch.setattr(run, "peer_python", lambda name: f"/venvs/{name}/bin/python")
    trained = []

    def fake_timed(cmd, **kw):
        trained.append(cmd)
        Path(cmd[-1]).write_text("model")
        return {"rc": 0, "seconds": 1.0, "peak_rss_mb": 1.0, "stderr": ""}

    monkeypatch.setattr(run, "timed", fake_timed)
    rows = dict(run.predict_only_commands())
    assert set(rows) == {"published RF (dense)", "published MLP-256 (dense)", "CellTypist", "scanpy ingest",
                         "SingleR (PyPI singler)"}
    assert all("train" in c for c in trained) and len(trained) == 4  # SingleR has no separate model
    assert rows["CellTypist"][-2] == "predict" and rows["CellTypist"][-1].endswith("celltypist.pkl")
    run.predict_only_commands()
    assert len(trained) == 4  # trained once: the saved models are reused


def test_a_peer_trained_once_predicts_what_it_predicts_when_trained_with_the_query(tmp_path):
    """methods.py's train / predict split gives the calls of its one-process form on a file with the
    training genes (the scale files), so the predict-only rows time the same predictions."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run

    from liverannot.io import write_h5ad

    train, _, _ = run.training_cells("human", n_per_class=15)
    write_h5ad(train, tmp_path / "train.h5ad")
    run.synthetic_h5ad(tmp_path / "q.h5ad", 300, block=300)
    py, methods = sys.executable, str(ROOT / "benchmarks" / "methods.py")
    for m in ("published_rf", "published_mlp"):
        subprocess.run([py, methods, m, str(tmp_path / "train.h5ad"), str(tmp_path / "q.h5ad"), str(tmp_path / "a.csv")], check=True)
        subprocess.run([py, methods, m, "train", str(tmp_path / "train.h5ad"), str(tmp_path / "m.pkl")], check=True)
        subprocess.run([py, methods, m, "predict", str(tmp_path / "m.pkl"), str(tmp_path / "q.h5ad"), str(tmp_path / "b.csv")], check=True)
        a, b = (tmp_path / "a.csv").read_text(), (tmp_path / "b.csv").read_text()
        assert a == b and len(a.splitlines()) == 301


@needs_shared
def test_unknown_types_leave_one_lineage_out(tmp_path):
    """benchmarks/unknown_types.py: the held-out lineage's columns (every atlas's) are gone from the
    training reference, and a tiny run reports that lineage's real cells."""
    import pandas as pd

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import unknown_types

    from liverannot.reference import NONLIVER_PREFIX, lineage_map, training_class
    from liverannot.train_cli import shipped_reference

    lin = lineage_map("mouse")
    ref = shipped_reference(SHARED, "mouse", second_atlas=True)
    sub = unknown_types.without_lineage(ref, lin, "b_plasma")
    assert not [c for c in sub.classes if not c.startswith(NONLIVER_PREFIX) and lin[training_class(c)] == "b_plasma"]
    assert [c for c in ref.classes if c.startswith(NONLIVER_PREFIX)] == [c for c in sub.classes if c.startswith(NONLIVER_PREFIX)]
    assert len(sub.classes) == len(ref.classes) - 4  # two MCA B-cell classes and their two human profiles
    out = tmp_path / "u.csv"
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "unknown_types.py"), "--species", "mouse",
                        "--recipes", "custom", "--kinds", "nn", "--lineages", "b_plasma", "--n-per-class", "40",
                        "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    df = pd.read_csv(out)
    (row,) = df.itertuples(index=False)
    cells = real_cells_of("mouse", "b_plasma")
    assert row.held_out == "b_plasma" and row.cells == cells
    assert 0 <= row.unassigned <= 1 and 0 <= row.confident_wrong <= 1 - row.unassigned + 1e-9
    assert "b_plasma" in r.stdout and "| mouse | custom | nn |" in r.stdout


def real_cells_of(species, lineage):
    import anndata as ad

    from liverannot.evaluate import dev_datasets, expected_lineages

    return sum(int((expected_lineages(n, ad.read_h5ad(p).obs["cell_type"]) == lineage).sum())
               for n, p in dev_datasets(species).items())


def test_seed_spread_settings_merge_like_the_shipped_ones():
    from liverannot.train_cli import merge_settings

    base = {"simulation": {"batch_sd": 1.0, "n_batches": 12}, "nonliver_share": 4.0}
    out = merge_settings(base, {"simulation": {"batch_sd": 0.5}, "nonliver_share": 8, "module_selection": None})
    assert out == {"simulation": {"batch_sd": 0.5, "n_batches": 12}, "nonliver_share": 8, "module_selection": None}
    assert base["simulation"]["batch_sd"] == 1.0  # the shipped settings are not changed


@needs_shared
def test_seed_spread_trains_and_evaluates_the_recipe(tmp_path):
    import pandas as pd

    out = tmp_path / "s.csv"
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "seeds.py"), "--species", "mouse", "--kinds", "rf",
                        "--seeds", "0", "--n-per-class", "40", "--out", str(out)], capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    df = pd.read_csv(out)
    assert list(df["seed"]) == [0] and not df["second_atlas"].any()
    for col in seeds_metrics():
        assert 0 <= df[col].iloc[0] <= 1, col
    assert "mouse rf, 1 seeds, mean (range): dev " in r.stdout
    bad = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "seeds.py"), "--set", "nonliver_share=eight"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "must be JSON" in bad.stderr and "Traceback" not in bad.stderr


def seeds_metrics():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import seeds

    return seeds.METRICS


def test_cohort_smoke_times_start_up_and_the_run_of_a_small_cohort():
    """benchmarks/cohort.py --smoke: a 2-sample cohort of distinct cells through `liverannot run`,
    with the start-up table; --version must stay free of the heavy imports every task would pay."""
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "cohort.py"), "--smoke"], capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = {line.split("|")[1].strip(): line.split("|")[2:] for line in r.stdout.splitlines() if line.startswith("| ")}
    assert rows["liverannot run (one process, samples in turn)"][0].strip() == "ok"
    assert float(rows["liverannot --version"][1]) < float(rows["import numpy, pandas, scipy.sparse"][1])
    sheet = ROOT / "benchmarks" / "out" / "cohort" / "smoke" / "data" / "samplesheet.csv"
    import anndata as ad

    a, b = (ad.read_h5ad(sheet.parent / f"s00{i}.h5ad") for i in (0, 1))
    # about 400 cells each (the cell types' shares are rounded); distinct samples, not one block repeated
    assert abs(a.n_obs - 400) <= 5 and a.shape == b.shape and (a.X != b.X).nnz > 0


def test_cohort_trace_durations_and_memory_are_parsed_as_nextflow_writes_them():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import cohort

    assert cohort.parse_duration("850ms") == 0.85 and cohort.parse_duration("4.2s") == 4.2
    assert cohort.parse_duration("1m 3s") == 63 and cohort.parse_duration("2h 1m 5s") == 7265
    assert cohort.parse_duration("-") is None
    assert cohort.parse_memory("1.5 GB") == 1536 and cohort.parse_memory("512 KB") == 0.5
    assert cohort.parse_memory("-") is None and cohort.parse_percent("187.5%") == 187.5


def test_cohort_step_table_sets_each_task_against_the_same_work_inside_run():
    import pandas as pd

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import cohort

    trace = pd.DataFrame([{"process": f"LIVERANNOT_{p}", "status": st, "realtime_s": t}
                          for p, st, t in [("QC", "COMPLETED", 2.0), ("QC", "COMPLETED", 4.0), ("QC", "FAILED", 90.0),
                                           ("ANNOTATE", "COMPLETED", 3.0), ("REPORT", "CACHED", 5.0)]])
    steps = pd.DataFrame({"qc": [1.0, 1.5, 2.0], "annotate": [0.2, 0.2, 0.3], "write": [0.5, 0.4, 0.6],
                          "plots": [1.0, 1.0, 1.0]}, index=["a", "b", "c"])
    t = cohort.step_table(trace, steps).set_index("step")
    assert t.loc["qc", "task_s_median"] == 3.0 and t.loc["qc", "inside_run_s_median"] == 1.5   # the failed try left out
    assert t.loc["annotate", "inside_run_s_median"] == 0.7   # annotate + writing the outputs, per sample
    assert abs(t.loc["annotate", "per_task_overhead_s"] - 2.3) < 1e-9 and t.loc["report", "per_task_overhead_s"] == 4.0
    assert t.loc["cluster"].isna().all()   # no such task, no such step: nothing made up


def test_results_are_rebuilt_from_the_tables_of_the_sections_that_ran(tmp_path, monkeypatch):
    """A section writes its table with its date and machine; RESULTS.md is rebuilt from every table
    present, measurements read back as floats, and a section that never ran says how to run it."""
    import argparse

    import pandas as pd

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import run

    monkeypatch.setattr(run, "TABLES", tmp_path / "tables")
    e2e = pd.DataFrame([{"cells": 10_000, "what": "liverannot run (MultiQC excluded)", "status": "ok",
                         "seconds_median": 9.0, "peak_rss_mb_median": 1200, "peak_rss_mb_max": 1300, "runs": 3,
                         "cluster_s": 5.0}])
    run.save_table("run", e2e)
    first = (tmp_path / "tables" / "run.csv").read_text().splitlines()[0]
    assert first.startswith("# 20") and "cores" in first
    t, when = run.load_tables()["run"]
    assert t["peak_rss_mb_max"].dtype == float and t["cells"].dtype != float and when == first[2:]
    args = argparse.Namespace(sizes="10000,100000,1000000", repeats=3, no_peers=False)
    run.write_results(args, tmp_path / "RESULTS.md")
    text = (tmp_path / "RESULTS.md").read_text()
    assert "| 10000 | liverannot run (MultiQC excluded) | ok | 9.000 | 1,200 | 1,300 | 3 | 5.000 |" in text
    assert f"Measured {when} (`benchmarks/tables/run.csv`)" in text
    for section in ("accuracy", "scale", "firstrun", "large"):
        assert f"_Not run yet: `python benchmarks/run.py --sections {section}`._" in text
    assert "- a 1M-cell sample end to end: not run (`--sections large`)." in text
    assert "10,000 cells: 9.0 s (median), 1,300 MB peak RSS; meets the goal of at most 10 s." in text


@needs_shared
def test_zonation_benchmark_sections_write_their_tables_and_the_markdown_is_built_from_them(tmp_path, monkeypatch):
    """benchmarks/zonation.py: the split-half section on the real sets (fewer splits) writes its table,
    the markdown is rebuilt from whatever tables exist, and liverannot's rows are there with the naive
    and previous methods on the same halves."""
    import pandas as pd

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import zonation as bench

    monkeypatch.setattr(bench, "TABLES", tmp_path)
    monkeypatch.setattr(bench, "HERE", tmp_path)
    monkeypatch.setattr(bench, "SPLITS", 2)
    assert bench.main(["--section", "split"]) == 0
    d = pd.read_csv(tmp_path / "zonation_split.csv")
    assert set(d["method"]) == {"liverannot", "naive (signed mean)", bench.NAIVE_CENTRED, "previous (correlation)"}
    assert d.groupby(["set", "split"]).size().eq(4).all() and d["set"].nunique() == 4
    assert d["held-out half, centred"].between(-1, 1).all()
    # the plain signed mean follows the detected genes on the real sets (the cell's offset: pericentral
    # genes outnumber periportal ones), the offset-free scores much less
    det = d.groupby("method")["detected zonated genes"].apply(lambda v: v.abs().mean())
    assert det["naive (signed mean)"] > det["liverannot"] + 0.2
    text = (tmp_path / "ZONATION.md").read_text()
    assert "## Split-half agreement on real hepatocytes" in text and "### The human side" in text
    assert "Each target has a twin" in text
    assert "## Simulated hepatocytes" not in text   # no sim table here: no section for it


@needs_shared
def test_panel_benchmark_refits_on_the_panel_and_tabulates_rf_against_nn(tmp_path, monkeypatch):
    """benchmarks/panels.py: a 700-gene panel of the human development sets, nn and rf (each refit on
    the panel), one row per model with the three metrics, and MODELS.md built from the table."""
    import pandas as pd

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import panels

    monkeypatch.setattr(panels, "TABLES", tmp_path)
    monkeypatch.setattr(panels, "HERE", tmp_path)
    assert panels.main(["--species", "human", "--panels", "700", "--seeds", "0"]) == 0
    d = pd.read_csv(tmp_path / "panels.csv")
    assert sorted(d["model"]) == ["nn", "rf"] and (d["panel genes"] == 700).all()
    for c in ("dev liver", "other tissues' liver types", "non-liver Unassigned"):
        assert d[c].between(0, 1).all()
    assert d["dev liver"].min() > 0.5   # a refit on 700 genes still tells most liver lineages apart
    text = (tmp_path / "MODELS.md").read_text()
    assert "## Gene panels" in text and "rf - nn, dev liver" in text


@needs_shared
def test_recipe_benchmark_appends_rows_resumes_and_builds_the_notebook(tmp_path, monkeypatch):
    """benchmarks/recipes.py: the multi-atlas recipe trained and evaluated at one seed (few simulated
    cells), its row appended to the table; a second call finds the row and trains nothing; MODELS.md
    gets the side-by-side section."""
    import pandas as pd

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import panels
    import recipes

    monkeypatch.setattr(recipes, "TABLE", tmp_path / "recipes.csv")
    monkeypatch.setattr(recipes, "HERE", tmp_path)
    monkeypatch.setattr(panels, "TABLES", tmp_path)
    args = ["--recipes", "multi_atlas", "--species", "mouse", "--kinds", "rf", "--seeds", "0", "--n-per-class", "40"]
    assert recipes.main(args) == 0
    d = pd.read_csv(tmp_path / "recipes.csv")
    assert d[["recipe", "species", "kind", "seed"]].values.tolist() == [["multi_atlas", "mouse", "rf", 0]]
    for m in ("dev", "other_tissues", "nonliver_unassigned"):
        assert 0 <= d[m].iloc[0] <= 1, m
    calls = []
    monkeypatch.setattr("seeds.run", lambda *a, **k: calls.append(a))
    assert recipes.main(args) == 0 and calls == []      # the row is there: nothing retrained
    text = (tmp_path / "MODELS.md").read_text()
    assert "## Recipes side by side" in text and "| mouse | rf | multi_atlas |" in text
    assert recipes.main(["--recipes", "nonsense", "--markdown"]) == 2


def test_a_partial_scale_rerun_replaces_only_the_rows_it_measured(tmp_path, monkeypatch):
    """`--sections scale --sizes 1000000 --no-peers` keeps the peers and other sizes of the last run,
    each row with the date it was measured, in the last table's order."""
    import pandas as pd

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import run

    monkeypatch.setattr(run, "TABLES", tmp_path / "tables")
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "scale.csv").write_text(
        "# 2026-12-03; 2 cores\ncells,method,status,seconds_median,runs\n"
        "10000,liverannot classify nn,ok,3.1,3\n10000,CellTypist (predict only),ok,3.6,3\n"
        "1000000,liverannot classify nn,ok,83.7,3\n1000000,liverannot classify rf,ok,87.6,3\n")
    new = pd.DataFrame([{"cells": 1_000_000, "method": "liverannot classify nn", "status": "ok", "seconds_median": 70.0, "runs": 2}])
    run.save_table("scale", new, merge_on=("cells", "method"))
    t, when = run.load_tables()["scale"]
    assert list(zip(t["cells"], t["method"])) == [(10000, "liverannot classify nn"), (10000, "CellTypist (predict only)"),
                                                  (1000000, "liverannot classify nn"), (1000000, "liverannot classify rf")]
    assert list(t["seconds_median"]) == [3.1, 3.6, 70.0, 87.6]
    assert list(t["measured"][[0, 1, 3]]) == ["2026-12-03"] * 3 and t["measured"][2] != "2026-12-03"
    assert "keep their date" in when


def test_classify_profile_clocks_every_stage_and_says_what_the_1m_goal_is_missed_by(tmp_path):
    """benchmarks/profile_classify.py on a real (small) scale file: every stage clocked, the clocks and
    the rest add up to the command's wall time, the network's first layer timed alone; the profile
    section's markdown and the 1M goal lines say where the time goes."""
    import json

    import pandas as pd

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import profile_classify
    import run

    run.synthetic_h5ad(tmp_path / "s.h5ad", 3000, block=1500)
    got = {}
    for kind in ("nn", "rf"):
        r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "profile_classify.py"), str(tmp_path / "s.h5ad"), kind],
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
        got[kind] = json.loads(r.stdout.strip().splitlines()[-1])
    for kind, p in got.items():
        stages = [name for name, _, _ in profile_classify.STAGES]
        assert set(stages) <= set(p)
        # the stages that do work on every chunk were reached (a clock left unwired would read 0)
        for stage in ("gene mapping", "features", "model", "correlations", "decisions", "writing the CSV",
                      "zonation: placing hepatocytes"):
            assert p[stage] > 0, (kind, stage, p)
        assert abs(sum(p[s] for s in stages) + p["rest"] - p["total"]) < 0.05
        assert p["rest"] > 0
    assert 0 < got["nn"]["first layer alone"] and "first layer alone" not in got["rf"]

    pr = pd.DataFrame([{"cells": 1_000_000, "model": kind, "stage": stage, "seconds_median": v}
                       for kind, stages in {"nn": {"model": 37.0, "features": 11.0, "gene mapping": 8.0,
                                                   "writing the CSV": 7.0, "rest": 4.0, "total": 83.0,
                                                   "first layer alone": 36.0},
                                            "rf": {"model": 30.0, "features": 11.0, "gene mapping": 8.0,
                                                   "writing the CSV": 7.0, "rest": 3.0, "total": 70.0}}.items()
                       for stage, v in stages.items()])
    text = run.profile_summary(pr)
    assert "| stage | nn s | rf s | nn share | rf share |" in text and "| model | 37.000 | 30.000 | 45% | 43% |" in text
    assert "| first layer alone | 36.000 |  | 43% |  |" in text   # nn only
    assert "- nn: 83 s in all; the network 37 s; everything else 46 s (largest: features 11.0 s, gene mapping 8.0 s, " \
           "writing the CSV 7.0 s, rest 4.0 s); the network's first layer alone (one matrix product) 36 s. Even a " \
           "free network leaves 46 s, over the 45 s goal." in text
    assert "- rf: 70 s in all; the forest 30 s; everything else 40 s (largest: features 11.0 s, gene mapping 8.0 s, " \
           "writing the CSV 7.0 s, rest 3.0 s)." in text
    sc = pd.DataFrame([{"cells": 1_000_000, "method": f"liverannot classify {k}", "status": "ok", "seconds_median": s,
                        "peak_rss_mb_max": 1900.0} for k, s in (("nn", 83.0), ("rf", 44.0))])
    goals = run.goals_scale(sc, pr).splitlines()
    assert goals[0].endswith("Where it goes (profile above, 83 s in that run): the network 37 s, the rest of the "
                             "pass and the outputs 46 s: even a free network would leave it over 45 s.")
    assert goals[1].endswith("meets the goal of at most 2,048 MB.")   # rf meets 45 s: nothing to explain
    sc.loc[1, "seconds_median"] = 70.0
    assert run.goals_scale(sc, pr).splitlines()[1].endswith(
        "the forest 30 s, the rest of the pass and the outputs 40 s: the forest alone would have to lose 25 s of its 30 s.")


def test_the_accuracy_section_of_one_species_keeps_the_other_species_rows(tmp_path, monkeypatch):
    """`--sections accuracy --accuracy-species mouse` (a session's 20 minutes) replaces the mouse rows
    of the last accuracy table and keeps the human ones."""
    import pandas as pd

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run

    monkeypatch.setattr(run, "TABLES", tmp_path / "tables")
    monkeypatch.setattr(run, "OUT", tmp_path / "out")
    monkeypatch.setattr(run, "write_results", lambda args: None)
    calls = []

    def fake_accuracy(species, peers, repeats):
        calls.append(species)
        return pd.DataFrame([{"species": species, "method": m, "status": "ok", "forced_lineage_accuracy": acc,
                              "seconds_median": 1.0, "runs": repeats}
                             for m, acc in (("liverannot nn", {1: 0.9, 2: 0.91, 3: 0.95}[len(calls)]), ("SingleR", 0.8))])

    monkeypatch.setattr(run, "accuracy", fake_accuracy)
    monkeypatch.setattr(sys, "argv", ["run.py", "--sections", "accuracy", "--repeats", "1"])
    run.main()
    monkeypatch.setattr(sys, "argv", ["run.py", "--sections", "accuracy", "--accuracy-species", "mouse", "--repeats", "1"])
    run.main()
    assert calls == ["human", "mouse", "mouse"]
    t, _ = run.load_tables()["accuracy"]
    assert list(zip(t["species"], t["method"])) == [("human", "liverannot nn"), ("human", "SingleR"),
                                                    ("mouse", "liverannot nn"), ("mouse", "SingleR")]
    # human's nn row as first measured (0.9), mouse's from the rerun (0.95, not the first run's 0.91)
    assert list(t["forced_lineage_accuracy"]) == [0.9, 0.8, 0.95, 0.8]
