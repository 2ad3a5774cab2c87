#!/usr/bin/env python
"""Cohort scale (#21, #34): a synthetic cohort through the Nextflow pipeline and through `liverannot run`.

    python benchmarks/cohort.py                        # 50 samples x 5,000 cells, every section (~35 min)
    python benchmarks/cohort.py --section nextflow     # one section (startup, run, nextflow, nextflow_steps)
    python benchmarks/cohort.py --section wide         # 200 x 2,000 cells through the pipeline (~30 min)
    python benchmarks/cohort.py --report-only          # COHORT.md from the sections' files
    python benchmarks/cohort.py --samples 10 --no-nextflow
    python benchmarks/cohort.py --smoke                # 2 x 400 cells, no Nextflow (the test suite)

Each section writes its files (startup.csv, wall.json's entry, trace_<layout>.csv) as it ends, so a
session can rerun one and rebuild COHORT.md from all of them. The pipeline runs in both process
layouts: `nextflow` is the default (one task per sample, LIVERANNOT_SAMPLE), `nextflow_steps` is
--per_step_tasks (one task per step, the LIVER_ANNOTATION subworkflow).

Every sample is distinct (its own simulation seed), with human liver cell types in the shares of
`liverannot demo`. Measured, on this machine's cores:

- start-up: what every process pays before it does any work (`liverannot --version`, the imports a
  step needs, loading a model), medians of repeated runs;
- `liverannot run` on the whole cohort, one process under /usr/bin/time (wall seconds, peak RSS);
- the Nextflow pipeline (local executor, no container, the pinned offline Nextflow), staged through
  the offline test entry as tests/test_pipeline_runs.py does; its execution trace gives each task's
  run time, CPU use and peak RSS against what its label requests (what a SLURM user sees per job).

Per-sample overhead = (sum of a sample's task run times) - (`liverannot run` seconds per sample):
the price of a process start, imports and model load per task, and of the h5ads tasks pass on.
Writes benchmarks/out/cohort/*.csv and benchmarks/COHORT.md, and prints the tables.
"""
from __future__ import annotations

import argparse
import csv
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))
from run import LIVERANNOT, PY, log, timed  # noqa: E402
# the pipeline's offline staging, as the pipeline tests (and the container and SLURM tests) use it
from test_pipeline_runs import LAUNCHER, STAGED, STEPS, config_without_plugins  # noqa: E402

OUT = HERE / "out" / "cohort"


# ------------------------------------------------------------------------------------------
# the cohort
# ------------------------------------------------------------------------------------------

def make_cohort(folder: Path, n_samples: int, n_cells: int, species: str) -> Path:
    """n_samples distinct simulated samples (h5ad, raw counts) and their samplesheet."""
    from liverannot.demo import simulate_sample
    from liverannot.io import write_h5ad

    folder.mkdir(parents=True, exist_ok=True)
    sheet = folder / "samplesheet.csv"
    rows = []
    for i in range(n_samples):
        path = folder / f"s{i:03d}.h5ad"
        if not path.exists():
            a = simulate_sample(species, n_cells, seed=1000 + i)
            write_h5ad(a, path)
        rows.append(f"s{i:03d},{path},{species}")
    sheet.write_text("sample,input,species\n" + "\n".join(rows) + "\n")
    return sheet


# ------------------------------------------------------------------------------------------
# start-up costs
# ------------------------------------------------------------------------------------------

STARTUP = {
    "python (bare interpreter)": [PY, "-c", "pass"],
    "liverannot --version": [LIVERANNOT, "--version"],
    "import liverannot": [PY, "-c", "import liverannot"],
    "import numpy, pandas, scipy.sparse": [PY, "-c", "import numpy, pandas, scipy.sparse"],
    "import anndata": [PY, "-c", "import anndata"],
    "import scanpy": [PY, "-c", "import scanpy"],
    "import liverannot + load the human nn model": [
        PY, "-c", "from liverannot.model import Model, shipped_model_path; Model.load(shipped_model_path('human', 'nn'))"],
    "import liverannot + load the human rf model": [
        PY, "-c", "from liverannot.model import Model, shipped_model_path; Model.load(shipped_model_path('human', 'rf'))"],
}


def startup_table(repeats: int) -> pd.DataFrame:
    rows = []
    for what, cmd in STARTUP.items():
        runs = [timed(cmd) for _ in range(repeats)]
        ok = [r for r in runs if r["rc"] == 0]
        rows.append({"what": what, "runs": len(ok),
                     "seconds_median": statistics.median(r["seconds"] for r in ok) if ok else None,
                     "peak_rss_mb_median": statistics.median(r["peak_rss_mb"] for r in ok if r["peak_rss_mb"])
                     if ok else None})
        log(f"  {what}: {rows[-1]['seconds_median']}")
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------
# Nextflow: staging, running, reading the trace
# ------------------------------------------------------------------------------------------

def stage_pipeline(folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name in STAGED:
        (folder / name).symlink_to(ROOT / name)
    shutil.copy(ROOT / "tests" / "nextflow" / "main.nf", folder / "main.nf")
    (folder / "nextflow.config").write_text(config_without_plugins((ROOT / "nextflow.config").read_text()))
    return folder


#: the pipeline's process layouts: section name -> (label, extra Nextflow arguments)
LAYOUTS = {"nextflow": ("one task per sample", []),
           "nextflow_steps": ("one task per step (--per_step_tasks)", ["--per_step_tasks"])}


def run_nextflow(sheet: Path, folder: Path, model: str, extra=()) -> tuple[dict, Path]:
    pipeline = stage_pipeline(folder / "pipeline")
    launch = folder / "launch"
    if launch.exists():
        shutil.rmtree(launch)
    launch.mkdir(parents=True)
    outdir = launch / "results"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NXF_")}
    env["NXF_HOME"] = str(ROOT / ".cache" / "nextflow" / "home")
    cmd = [str(LAUNCHER), "run", str(pipeline), "-ansi-log", "false", "--input", str(sheet), "--outdir",
           str(outdir), "--model", model, "--trace_report_suffix", "cohort", *extra]
    cwd = os.getcwd()
    os.chdir(launch)   # work/ and .nextflow/ land in the launch folder
    try:
        res = timed(cmd, env=env, timeout=6 * 3600)
    finally:
        os.chdir(cwd)
    return res, outdir / "pipeline_info" / "execution_trace_cohort.txt"


_UNITS_S = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_UNITS_MB = {"B": 1 / 2**20, "KB": 1 / 1024, "MB": 1.0, "GB": 1024.0, "TB": 2**20}


def parse_duration(text: str) -> float | None:
    """Seconds from a trace duration ('850ms', '4.2s', '1m 3s', '2h 1m 5s'); None for '-'."""
    parts = re.findall(r"([\d.]+)\s*(ms|s|m|h|d)\b", text or "")
    return sum(float(v) * _UNITS_S[u] for v, u in parts) if parts else None


def parse_memory(text: str) -> float | None:
    """MB from a trace memory ('512 MB', '1.2 GB', '800 KB'); None for '-'."""
    m = re.fullmatch(r"\s*([\d.]+)\s*(B|KB|MB|GB|TB)\s*", text or "")
    return float(m.group(1)) * _UNITS_MB[m.group(2)] if m else None


def parse_percent(text: str) -> float | None:
    m = re.fullmatch(r"\s*([\d.]+)%\s*", text or "")
    return float(m.group(1)) if m else None


def read_trace(path: Path) -> pd.DataFrame:
    """One row per task: process (the last name in the path), sample tag, seconds, CPU %, peak RSS
    and what was requested (cpus, memory MB, time s)."""
    with open(path) as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    out = []
    for r in rows:
        out.append({"process": r["name"].split(" ")[0].split(":")[-1], "tag": r.get("tag") or "",
                    "status": r["status"], "attempt": int(r.get("attempt") or 1),
                    "realtime_s": parse_duration(r.get("realtime")), "duration_s": parse_duration(r.get("duration")),
                    "cpu_pct": parse_percent(r.get("%cpu")), "peak_rss_mb": parse_memory(r.get("peak_rss")),
                    "cpus": int(r["cpus"]) if (r.get("cpus") or "-").isdigit() else None,
                    "memory_mb": parse_memory(r.get("memory")), "time_s": parse_duration(r.get("time"))})
    return pd.DataFrame(out)


def per_process(trace: pd.DataFrame) -> pd.DataFrame:
    """Per process: tasks, median and max run time, CPU use, peak RSS against the request."""
    done = trace[trace["status"].isin(["COMPLETED", "CACHED"])]
    g = done.groupby("process", sort=False)
    table = pd.DataFrame({
        "tasks": g.size(),
        "realtime_s_median": g["realtime_s"].median(),
        "realtime_s_max": g["realtime_s"].max(),
        "cpu_pct_median": g["cpu_pct"].median(),
        "cpus_requested": g["cpus"].max(),
        "peak_rss_mb_max": g["peak_rss_mb"].max(),
        "memory_mb_requested": g["memory_mb"].max(),
    })
    table["rss_share_of_request"] = table["peak_rss_mb_max"] / table["memory_mb_requested"]
    return table.reset_index()


#: each pipeline task and the steps of `liverannot run` (summary.json "seconds") doing the same work
TASK_STEPS = {"QC": ["qc"], "NORMALIZE": ["normalize"], "CLUSTER": ["cluster"], "CLASSIFY": ["classify"],
              "ANNOTATE": ["annotate", "write"], "REPORT": ["plots"]}


def run_step_seconds(run_outdir: Path) -> pd.DataFrame:
    """Per sample, the seconds of each step inside `liverannot run` (one row per sample)."""
    import json

    rows = []
    for f in sorted(run_outdir.glob("*/*.summary.json")):
        rows.append({"sample": f.parent.name, **json.loads(f.read_text()).get("seconds", {})})
    return pd.DataFrame(rows).set_index("sample") if rows else pd.DataFrame()


def step_table(trace: pd.DataFrame, steps: pd.DataFrame) -> pd.DataFrame:
    """Per step: the median task run time in the pipeline against the median time of the same work
    inside `liverannot run`; the difference is what running it as its own process costs."""
    done = trace[trace["status"].isin(["COMPLETED", "CACHED"])]
    rows = []
    for task, parts in TASK_STEPS.items():
        t = done[done["process"] == f"LIVERANNOT_{task}"]["realtime_s"]
        have = [c for c in parts if c in steps]
        inside = float(steps[have].sum(axis=1).median()) if have and len(steps) else None
        med = float(t.median()) if len(t) else None
        rows.append({"step": task.lower(), "task_s_median": med, "inside_run_s_median": inside,
                     "per_task_overhead_s": med - inside if med is not None and inside is not None else None})
    return pd.DataFrame(rows)


def per_sample_seconds(trace: pd.DataFrame) -> pd.Series:
    """Sum of each sample's per-sample task run times (the cohort tasks left out)."""
    done = trace[trace["status"].isin(["COMPLETED", "CACHED"]) & trace["process"].str.startswith("LIVERANNOT_")]
    done = done[done["process"].str.removeprefix("LIVERANNOT_").isin((*STEPS, "SAMPLE"))]
    return done.groupby("tag")["realtime_s"].sum()


# ------------------------------------------------------------------------------------------
# the report
# ------------------------------------------------------------------------------------------

def fmt(v, nd=1):
    if v is None or (isinstance(v, float) and v != v):
        return "n/a"
    return f"{v:,.{nd}f}" if isinstance(v, float) else str(v)


def md_table(df: pd.DataFrame, nd=1) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    for r in df.itertuples(index=False):
        lines.append("| " + " | ".join(fmt(v, nd) for v in r) + " |")
    return "\n".join(lines)


def write_report(args, startup: pd.DataFrame | None, wall: dict, traces: dict[str, pd.DataFrame],
                 steps: pd.DataFrame | None = None) -> str:
    """COHORT.md from what the sections left: wall.json (``wall``), the traces of each layout."""
    n = args.samples
    parts = [f"# Cohort benchmark ({n} samples x {args.cells:,} cells, {args.species}, model {args.model})", "",
             f"`python benchmarks/cohort.py --samples {n} --cells {args.cells}` on {platform.node()}, "
             f"{os.cpu_count()} cores; sections run {', '.join(sorted({r['date'] for r in wall.values() if isinstance(r, dict) and 'date' in r})) or time.strftime('%Y-%m-%d')}. "
             "Distinct simulated samples; seconds are wall time. The pipeline's default runs a sample's whole "
             "chain as one task (LIVERANNOT_SAMPLE); `--per_step_tasks` runs each step as its own task, as the "
             "LIVER_ANNOTATION subworkflow does in a host pipeline.", ""]
    run_res = wall.get("run")
    summary = []
    if run_res:
        summary.append({"how": "liverannot run (one process, samples in turn)", "status": "ok" if run_res["rc"] == 0 else "failed",
                        "wall_s": run_res["seconds"], "s_per_sample": run_res["seconds"] / n,
                        "peak_rss_mb": run_res["peak_rss_mb"], "x_run": 1.0})
    for key, (label, _) in LAYOUTS.items():
        r = wall.get(key)
        if r:
            summary.append({"how": f"Nextflow, local executor, {label}", "status": "ok" if r["rc"] == 0 else "failed",
                            "wall_s": r["seconds"], "s_per_sample": r["seconds"] / n, "peak_rss_mb": r["peak_rss_mb"],
                            "x_run": r["seconds"] / run_res["seconds"] if run_res else None})
    if summary:
        parts += ["## Wall time", "", "`x_run`: wall time against `liverannot run` (goal <= 1.3 for the default layout).", "",
                  md_table(pd.DataFrame(summary), 2), ""]
    if run_res and run_res["rc"] == 0 and traces:
        per = run_res["seconds"] / n
        lines = []
        for key, trace in traces.items():
            sample_s = per_sample_seconds(trace)
            if len(sample_s) and wall.get(key):
                med = float(sample_s.median())
                side = float(sample_s.sum()) / wall[key]["seconds"]
                lines.append(f"- {LAYOUTS[key][0]}: a sample's task(s) run for {med:.1f} s in all (median over "
                             f"samples), with {side:.1f} tasks running side by side on average (sum of task times / "
                             f"wall time); per sample of wall time {wall[key]['seconds'] / n:.1f} s against "
                             f"`liverannot run`'s {per:.1f} s (one process, samples in turn, MultiQC included).")
        parts += ["## Per-sample time", "", *lines, ""]
    if "nextflow_steps" not in traces:
        parts += ["One task per step (`--per_step_tasks`) was not rerun with this cohort (its work/ holds five "
                  "h5ads per sample: more disk than this machine had free); its last measurement is in this "
                  "file's git history (`git log -p benchmarks/COHORT.md`).", ""]
    if steps is not None:
        parts += ["## Each step as a task (--per_step_tasks) and inside `liverannot run`", "",
                  "`inside_run`: the step's own seconds in `liverannot run` (its summary.json; annotate includes "
                  "writing the sample's outputs, report is the plots). The difference is the task's start, "
                  "imports, model load and its h5ad read and write.", "", md_table(steps, 2), ""]
    disk = {k: v for k, v in wall.get("disk_mb", {}).items() if v is not None}
    if disk:
        inputs = disk.get("inputs")
        rows = [{"what": k, "MB": v, "MB_per_sample": v / n, "x_inputs": v / inputs if inputs else None}
                for k, v in disk.items()]
        parts += ["## Disk", "",
                  "`liverannot run` writes uncompressed h5ads (its default); the pipeline sets "
                  "`LIVERANNOT_H5AD_COMPRESSION=counts` (the raw-counts layer gzip-compressed, the log values not). "
                  "One task per sample writes the annotated h5ad once; one task per step writes the sample's whole "
                  "h5ad at every step. Goal: work/ <= 1.5x the inputs, the outdir no larger than `run`'s.", "",
                  md_table(pd.DataFrame(rows), 2), ""]
    for key, trace in traces.items():
        parts += [f"## Per task, {LAYOUTS[key][0]} (what a SLURM user sees: one job per task)", "",
                  md_table(per_process(trace), 2), ""]
    parts += wide_report(args.species)
    if startup is not None:
        parts += ["## Start-up costs (paid by every process)", "", md_table(startup, 2), ""]
    text = "\n".join(parts)
    if not args.smoke:
        (HERE / "COHORT.md").write_text(text)
    return text


def folder_mb(path: Path) -> float | None:
    """Disk use of a folder (files counted once, links not followed), MB; None when it is absent."""
    if not path.exists():
        return None
    seen, total = set(), 0
    for f in path.rglob("*"):
        if f.is_file() and not f.is_symlink():
            st = f.stat()
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total / 2**20


def disk_use(folder: Path, sections) -> dict:
    """What the cohort occupies on disk: its inputs, and the outputs of the sections just run (`run`'s
    outdir, each layout's work/ and results)."""
    out = {"inputs": folder_mb(folder / "data")}
    if "run" in sections:
        out["liverannot run outdir"] = folder_mb(folder / "run")
    for key, (label, _) in LAYOUTS.items():
        if key in sections:
            launch = folder / key / "launch"
            out[f"Nextflow work/, {label}"] = folder_mb(launch / "work")
            out[f"Nextflow outdir, {label}"] = folder_mb(launch / "results")
    return out


def save_wall(folder: Path, results: dict) -> None:
    """Merge this invocation's sections into wall.json (the other sections' entries are kept)."""
    import json

    path = folder / "wall.json"
    wall = json.loads(path.read_text()) if path.exists() else {}
    for key, r in results.items():
        wall[key] = {"seconds": r["seconds"], "peak_rss_mb": r["peak_rss_mb"], "rc": r["rc"],
                     "date": time.strftime("%Y-%m-%d")}
    wall["disk_mb"] = {**wall.get("disk_mb", {}), **disk_use(folder, results)}
    path.write_text(json.dumps(wall, indent=1))


def report_only(args, folder: Path, print_it: bool = True) -> int | str:
    """COHORT.md from the files the sections left in the cohort's folder."""
    import json

    if not (folder / "wall.json").exists():
        raise SystemExit(f"{folder}: no earlier run of this cohort (wall.json missing)")
    wall = json.loads((folder / "wall.json").read_text())
    startup = pd.read_csv(folder / "startup.csv") if (folder / "startup.csv").exists() else None
    traces = {key: pd.read_csv(folder / f"trace_{key}.csv") for key in LAYOUTS
              if key in wall and (folder / f"trace_{key}.csv").exists()}
    steps = None
    if "nextflow_steps" in traces and "run" in wall and (folder / "run").exists():
        steps = step_table(traces["nextflow_steps"], run_step_seconds(folder / "run"))
    text = write_report(args, startup, wall, traces, steps)
    if print_it:
        print(text)
        return 0
    return text


# ------------------------------------------------------------------------------------------
# the wide cohort: many small samples through the default layout, the cohort step and MultiQC
# ------------------------------------------------------------------------------------------

WIDE = (200, 2000)   # samples, cells per sample


def task_overhead(trace: pd.DataFrame, results: Path) -> dict | None:
    """Per sample task: its run time against the chain's own seconds (summary.json: QC to plots), the
    rest being the process start, imports, reading the input and versions.yml (medians, s)."""
    import json

    done = trace[(trace["process"] == "LIVERANNOT_SAMPLE") & trace["status"].isin(["COMPLETED", "CACHED"])]
    rows = []
    for r in done.itertuples():
        f = results / str(r.tag) / f"{r.tag}.summary.json"
        if f.exists():
            chain = sum(json.loads(f.read_text()).get("seconds", {}).values())
            rows.append((r.realtime_s, chain))
    if not rows:
        return None
    task, chain = (statistics.median(x) for x in zip(*rows))
    return {"task_s": task, "chain_s": chain, "overhead_s": statistics.median(t - c for t, c in rows)}


def wide_folder(species: str) -> Path:
    return OUT / f"{species}_{WIDE[0]}x{WIDE[1]}_wide"


def render_seconds(report: Path) -> dict:
    """Open the report in headless Chromium as tests/browser.py does: wall seconds until the DOM is
    dumped, and whether every plot container holds a drawn figure."""
    from browser import CHROMIUM, render, rendered_plot_ids

    if CHROMIUM is None:
        return {"chromium_s": None}
    t0 = time.perf_counter()
    dom, console = render(report)
    seconds = time.perf_counter() - t0
    errors = [m for m in console if "error" in m.lower()]
    return {"chromium_s": seconds, "plots_drawn": len(rendered_plot_ids(dom)), "console_errors": len(errors)}


def run_wide(species: str, model: str) -> dict:
    """200 samples x 2,000 cells through the pipeline (default layout): wall time, disk, the cohort
    step's and MultiQC's time and memory, every sample in the report, the report opened in Chromium."""
    import json

    folder = wide_folder(species)
    log(f"wide cohort: {WIDE[0]} samples x {WIDE[1]} cells in {folder / 'data'}")
    sheet = make_cohort(folder / "data", *WIDE, species)
    log("Nextflow pipeline on the wide cohort, one task per sample")
    res, trace_path = run_nextflow(sheet, folder / "nextflow", model)
    out = {"seconds": res["seconds"], "peak_rss_mb": res["peak_rss_mb"], "rc": res["rc"], "date": time.strftime("%Y-%m-%d")}
    results = folder / "nextflow" / "launch" / "results"
    if trace_path.exists():
        trace = read_trace(trace_path)
        trace.to_csv(folder / "trace.csv", index=False)
        procs = per_process(trace).set_index("process")
        out["per_task"] = task_overhead(trace, results)
        out["sample_task_peak_rss_mb"] = float(procs.loc["LIVERANNOT_SAMPLE", "peak_rss_mb_max"]) \
            if "LIVERANNOT_SAMPLE" in procs.index else None
        for proc in ("LIVERANNOT_AGGREGATE", "MULTIQC"):
            if proc in procs.index:
                out[proc] = {"seconds": float(procs.loc[proc, "realtime_s_max"]),
                             "peak_rss_mb": float(procs.loc[proc, "peak_rss_mb_max"])}
    out["disk_mb"] = {"inputs": folder_mb(folder / "data"), "Nextflow work/": folder_mb(folder / "nextflow" / "launch" / "work"),
                      "Nextflow outdir": folder_mb(results)}
    report = results / "multiqc" / "multiqc_report.html"
    if report.exists():
        out["report_mb"] = report.stat().st_size / 2**20
        names = [f"s{i:03d}" for i in range(WIDE[0])]
        tables = {"cohort_lineage_composition.csv": (results / "cohort" / "cohort_lineage_composition.csv"),
                  "multiqc general stats": results / "multiqc" / "multiqc_data" / "multiqc_general_stats.txt"}
        out["samples_in"] = {k: sum(1 for n in names if p.exists() and n in p.read_text()) for k, p in tables.items()}
        log("opening the report in Chromium")
        out.update(render_seconds(report))
    (folder / "wide.json").write_text(json.dumps(out, indent=1))
    return out


def wide_report(species: str) -> list[str]:
    import json

    path = wide_folder(species) / "wide.json"
    if not path.exists():
        return []
    w = json.loads(path.read_text())
    n, cells = WIDE
    disk = w.get("disk_mb", {})
    rows = [{"what": "pipeline wall time", "value": f"{w['seconds']:,.0f} s ({w['seconds'] / n:.1f} s per sample)"
             + ("" if w["rc"] == 0 else " FAILED")}]
    if w.get("per_task"):
        t = w["per_task"]
        rows.append({"what": "a sample's task (median)", "value": f"{t['task_s']:.1f} s, of which the chain {t['chain_s']:.1f} s: "
                     f"{t['overhead_s']:.1f} s per job for the process start, imports, reading the input and versions.yml "
                     f"(two tasks side by side on 2 cores); peak RSS at most {w.get('sample_task_peak_rss_mb') or 0:,.0f} MB "
                     "of the 4,096 MB its label requests"})
    for proc, what in (("LIVERANNOT_AGGREGATE", "cohort tables (LIVERANNOT_AGGREGATE)"), ("MULTIQC", "MultiQC")):
        if proc in w:
            rows.append({"what": what, "value": f"{w[proc]['seconds']:.1f} s, peak RSS {w[proc]['peak_rss_mb']:,.0f} MB"})
    for k, v in disk.items():
        if v is not None:
            rows.append({"what": f"disk: {k}", "value": f"{v:,.0f} MB" + (f" ({v / disk['inputs']:.2f}x the inputs)"
                                                                       if disk.get("inputs") and k != "inputs" else "")})
    if "report_mb" in w:
        rows.append({"what": "MultiQC report", "value": f"{w['report_mb']:.1f} MB"})
    for k, v in w.get("samples_in", {}).items():
        rows.append({"what": f"samples in {k}", "value": f"{v} of {n}"})
    if w.get("chromium_s") is not None:
        rows.append({"what": "report opened in headless Chromium", "value": f"{w['chromium_s']:.1f} s to the rendered "
                     f"page (scripts run, 20 s virtual-time budget), {w['plots_drawn']} plots drawn, "
                     f"{w['console_errors']} console errors"})
    return [f"## Wide cohort ({n} samples x {cells:,} cells, default layout; `--section wide`, {w.get('date', '')})", "",
            md_table(pd.DataFrame(rows)), ""]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--samples", type=int, default=50, help="samples in the cohort (default 50)")
    ap.add_argument("--cells", type=int, default=5000, help="cells per sample (default 5000)")
    ap.add_argument("--species", choices=["human", "mouse"], default="human")
    ap.add_argument("--model", choices=["nn", "rf"], default="nn")
    ap.add_argument("--repeats", type=int, default=5, help="repeats of each start-up measure (default 5)")
    ap.add_argument("--section", action="append", choices=["startup", "run", *LAYOUTS, "wide"],
                    help="run only this section (repeatable); the others' files are kept for the report")
    ap.add_argument("--no-nextflow", action="store_true", help="skip the Nextflow runs")
    ap.add_argument("--no-run", action="store_true", help="skip `liverannot run`")
    ap.add_argument("--report-only", action="store_true", help="rewrite COHORT.md from the last run's files")
    ap.add_argument("--smoke", action="store_true", help="2 samples x 400 cells, 2 repeats, no Nextflow, COHORT.md untouched")
    args = ap.parse_args(argv)
    if args.smoke:
        args.samples, args.cells, args.repeats, args.no_nextflow = 2, 400, 2, True
    if args.samples < 1 or args.cells < 100:
        ap.error("--samples must be >= 1 and --cells >= 100")
    if not args.no_nextflow and not LAUNCHER.exists():
        ap.error(f"no Nextflow launcher at {LAUNCHER}: run scripts/get_nextflow.sh, or pass --no-nextflow")
    tag = f"{args.species}_{args.samples}x{args.cells}"
    folder = OUT / ("smoke" if args.smoke else tag)
    if args.report_only:
        return report_only(args, folder)
    sections = args.section or ["startup", "run", *([] if args.no_nextflow else LAYOUTS)]
    if args.no_run and "run" in sections:
        sections.remove("run")
    log(f"cohort: {args.samples} samples x {args.cells} cells in {folder / 'data'}; sections {', '.join(sections)}")
    sheet = make_cohort(folder / "data", args.samples, args.cells, args.species)
    results = {}
    for section in sections:
        if section == "wide":
            results["wide"] = run_wide(args.species, args.model)
            continue
        if section == "startup":
            log("start-up costs")
            startup_table(args.repeats).to_csv(folder / "startup.csv", index=False)
        elif section == "run":
            log("liverannot run on the cohort")
            out = folder / "run"
            shutil.rmtree(out, ignore_errors=True)
            results["run"] = timed([LIVERANNOT, "run", "--input", str(sheet), "--outdir", str(out), "--model",
                                    args.model, "--quiet"], timeout=6 * 3600)
            if results["run"]["rc"] != 0:
                log(results["run"]["stderr"])
        else:
            log(f"Nextflow pipeline on the cohort, {LAYOUTS[section][0]}")
            (folder / f"trace_{section}.csv").unlink(missing_ok=True)
            results[section], trace_path = run_nextflow(sheet, folder / section, args.model, LAYOUTS[section][1])
            if results[section]["rc"] != 0:
                log(results[section]["stderr"])
            if trace_path.exists():
                read_trace(trace_path).to_csv(folder / f"trace_{section}.csv", index=False)
        save_wall(folder, {k: v for k, v in results.items() if k != "wide"})   # after every section: a later failure keeps what was measured
    if args.smoke:   # the smoke run's outputs are not kept
        shutil.rmtree(folder / "run", ignore_errors=True)
    text = report_only(args, folder, print_it=False)
    print(text)
    failed = [what for what, r in results.items() if r["rc"] != 0]
    if failed:
        log(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
