#!/usr/bin/env python
"""Cohort scale (#21): a synthetic cohort through the Nextflow pipeline and through `liverannot run`.

    python benchmarks/cohort.py                        # 50 samples x 5,000 cells, both ways (~25 min)
    python benchmarks/cohort.py --samples 10 --no-nextflow
    python benchmarks/cohort.py --smoke                # 2 x 400 cells, no Nextflow (the test suite)

Every sample is distinct (its own simulation seed), with human liver cell types in the shares of
`liverannot demo`. Measured, on this machine's cores:

- start-up: what every process pays before it does any work (`liverannot --version`, the imports a
  step needs, loading a model), medians of repeated runs;
- `liverannot run` on the whole cohort, one process under /usr/bin/time (wall seconds, peak RSS);
- the Nextflow pipeline (local executor, no container, the pinned offline Nextflow), staged through
  the offline test entry as tests/test_pipeline_runs.py does; its execution trace gives each task's
  run time, CPU use and peak RSS against what its label requests (what a SLURM user sees per job).

Per-sample overhead = (sum of a sample's task run times) - (`liverannot run` seconds per sample):
the price of running each step as its own process that reads and writes an h5ad.
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


def run_nextflow(sheet: Path, folder: Path, model: str) -> tuple[dict, Path]:
    pipeline = stage_pipeline(folder / "pipeline")
    launch = folder / "launch"
    if launch.exists():
        shutil.rmtree(launch)
    launch.mkdir(parents=True)
    outdir = launch / "results"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NXF_")}
    env["NXF_HOME"] = str(ROOT / ".cache" / "nextflow" / "home")
    cmd = [str(LAUNCHER), "run", str(pipeline), "-ansi-log", "false", "--input", str(sheet), "--outdir",
           str(outdir), "--model", model, "--trace_report_suffix", "cohort"]
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
    done = done[done["process"].str.removeprefix("LIVERANNOT_").isin(STEPS)]
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


def write_report(args, startup: pd.DataFrame | None, run_res: dict | None, nf_res: dict | None,
                 procs: pd.DataFrame | None, sample_s: pd.Series | None, steps: pd.DataFrame | None = None,
                 disk: dict | None = None) -> str:
    n = args.samples
    parts = [f"# Cohort benchmark ({n} samples x {args.cells:,} cells, {args.species}, model {args.model})", "",
             f"`python benchmarks/cohort.py --samples {n} --cells {args.cells}` on {platform.node()}, "
             f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}. Distinct simulated samples; "
             f"seconds are wall time.", ""]
    summary = []
    if run_res:
        summary.append({"how": "liverannot run (one process, samples in turn)", "status": "ok" if run_res["rc"] == 0 else "failed",
                        "wall_s": run_res["seconds"], "s_per_sample": run_res["seconds"] / n,
                        "peak_rss_mb": run_res["peak_rss_mb"]})
    if nf_res:
        summary.append({"how": "Nextflow, local executor", "status": "ok" if nf_res["rc"] == 0 else "failed",
                        "wall_s": nf_res["seconds"], "s_per_sample": nf_res["seconds"] / n,
                        "peak_rss_mb": nf_res["peak_rss_mb"]})
    if summary:
        parts += ["## Wall time", "", md_table(pd.DataFrame(summary)), ""]
    if sample_s is not None and len(sample_s) and run_res and run_res["rc"] == 0:
        per = run_res["seconds"] / n
        med = float(sample_s.median())
        parts += ["## Per-sample overhead of one task per step", "",
                  f"A sample's six tasks (QC to REPORT) run for {med:.1f} s in all (median over samples); "
                  f"`liverannot run` spends {per:.1f} s per sample (MultiQC included), so each sample pays "
                  f"about {med - per:.1f} s for running its steps as separate processes (Python start, imports, "
                  f"model load, an h5ad read and written per step).", ""]
    if steps is not None:
        parts += ["## Each step as a task and inside `liverannot run`", "",
                  "`inside_run`: the step's own seconds in `liverannot run` (its summary.json; annotate includes "
                  "writing the sample's outputs, report is the plots). The difference is the task's start, "
                  "imports, model load and its h5ad read and write.", "", md_table(steps, 2), ""]
    if disk:
        rows = [{"what": k, "MB": v, "MB_per_sample": v / n} for k, v in disk.items() if v is not None]
        parts += ["## Disk", "",
                  "Every task writes its sample's whole h5ad (uncompressed: `LIVERANNOT_H5AD_COMPRESSION` "
                  "trades time for space), so the work folder holds each sample about five times over.", "",
                  md_table(pd.DataFrame(rows), 0), ""]
    if procs is not None:
        parts += ["## Per task (what a SLURM user sees: one job per row's task)", "",
                  md_table(procs, 2), ""]
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


def disk_use(folder: Path) -> dict:
    """What the cohort occupies on disk: its inputs, `run`'s outputs, the pipeline's work/ and results."""
    launch = folder / "nextflow" / "launch"
    return {"inputs": folder_mb(folder / "data"), "liverannot run outdir": folder_mb(folder / "run"),
            "Nextflow work/": folder_mb(launch / "work"), "Nextflow outdir": folder_mb(launch / "results")}


def save_wall(folder: Path, run_res: dict | None, nf_res: dict | None) -> None:
    import json

    keep = ("seconds", "peak_rss_mb", "rc")
    wall = {k: {f: r[f] for f in keep} for k, r in (("run", run_res), ("nextflow", nf_res)) if r}
    wall["disk_mb"] = disk_use(folder)
    (folder / "wall.json").write_text(json.dumps(wall, indent=1))


def report_only(args, folder: Path, print_it: bool = True) -> int | str:
    """COHORT.md from the files a run left in its folder (startup.csv, wall.json, trace.csv, run/)."""
    import json

    if not (folder / "wall.json").exists():
        raise SystemExit(f"{folder}: no earlier run of this cohort (wall.json missing)")
    wall = json.loads((folder / "wall.json").read_text())
    startup = pd.read_csv(folder / "startup.csv") if (folder / "startup.csv").exists() else None
    procs = sample_s = steps = None
    if (folder / "trace.csv").exists() and "nextflow" in wall:
        trace = pd.read_csv(folder / "trace.csv")
        procs, sample_s = per_process(trace), per_sample_seconds(trace)
        if "run" in wall and (folder / "run").exists():
            steps = step_table(trace, run_step_seconds(folder / "run"))
    text = write_report(args, startup, wall.get("run"), wall.get("nextflow"), procs, sample_s, steps,
                        wall.get("disk_mb"))
    if print_it:
        print(text)
        return 0
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--samples", type=int, default=50, help="samples in the cohort (default 50)")
    ap.add_argument("--cells", type=int, default=5000, help="cells per sample (default 5000)")
    ap.add_argument("--species", choices=["human", "mouse"], default="human")
    ap.add_argument("--model", choices=["nn", "rf"], default="nn")
    ap.add_argument("--repeats", type=int, default=5, help="repeats of each start-up measure (default 5)")
    ap.add_argument("--no-nextflow", action="store_true", help="skip the Nextflow run")
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
    log(f"cohort: {args.samples} samples x {args.cells} cells in {folder / 'data'}")
    sheet = make_cohort(folder / "data", args.samples, args.cells, args.species)
    log("start-up costs")
    startup = startup_table(args.repeats)
    startup.to_csv(folder / "startup.csv", index=False)
    run_res = nf_res = None
    if not args.no_run:
        log("liverannot run on the cohort")
        out = folder / "run"
        shutil.rmtree(out, ignore_errors=True)
        run_res = timed([LIVERANNOT, "run", "--input", str(sheet), "--outdir", str(out), "--model", args.model,
                         "--quiet"], timeout=6 * 3600)
        if run_res["rc"] != 0:
            log(run_res["stderr"])
    if not args.no_nextflow:
        log("Nextflow pipeline on the cohort")
        (folder / "trace.csv").unlink(missing_ok=True)
        nf_res, trace_path = run_nextflow(sheet, folder / "nextflow", args.model)
        if nf_res["rc"] != 0:
            log(nf_res["stderr"])
        if trace_path.exists():
            trace = read_trace(trace_path)
            trace.to_csv(folder / "trace.csv", index=False)
    save_wall(folder, run_res, nf_res)
    if args.smoke:   # the smoke run's outputs are not kept
        shutil.rmtree(folder / "run", ignore_errors=True)
    text = report_only(args, folder, print_it=False)
    print(text)
    failed = [what for what, r in (("liverannot run", run_res), ("nextflow", nf_res)) if r and r["rc"] != 0]
    if failed:
        log(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
