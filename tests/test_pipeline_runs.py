"""Real Nextflow runs of the pipeline (`pytest -m nextflow`): local executor, no container, the
pinned Nextflow that scripts/get_nextflow.sh assembles from Maven Central, and `liverannot` found
through the pipeline's bin/ (the project's .venv).

The nf-schema plugin cannot be downloaded here, so the runs go through the offline test entry
tests/nextflow/main.nf, as nf-test does with its generated scripts: it is staged as main.nf in a
folder that links the pipeline's bin/, assets/, conf/, modules/, subworkflows/ and workflows/, beside
the pipeline's own nextflow.config less its plugins block. Everything else (profiles, labels,
retries, publishing, ext.args) is the pipeline's own. What these runs cannot cover is said in the
README ("How the pipeline is checked here").
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
LAUNCHER = ROOT / ".cache" / "nextflow" / "nextflow"
NF_LANG = sorted((ROOT / ".cache" / "nextflow").glob("nf-lang-*"))
STAGED = ("bin", "assets", "conf", "modules", "subworkflows", "workflows", "nextflow_schema.json")
STEPS = ("QC", "NORMALIZE", "CLUSTER", "CLASSIFY", "ANNOTATE", "REPORT")   # --per_step_tasks, the subworkflow
SAMPLE_TASK = "LIVERANNOT_SAMPLE"   # the default layout: a sample's whole chain in one task

pytestmark = [pytest.mark.nextflow, pytest.mark.slow]

if not (LAUNCHER.exists() and NF_LANG and shutil.which("java")):
    _reason = "no Nextflow launcher in .cache/nextflow (run scripts/get_nextflow.sh; needs java and mvn)"
    if os.environ.get("LIVERANNOT_REQUIRE_NEXTFLOW"):
        raise RuntimeError(_reason)
    pytestmark.append(pytest.mark.skip(reason=_reason))


# ------------------------------------------------------------------------------------------
# staging and running
# ------------------------------------------------------------------------------------------

def config_without_plugins(text: str) -> str:
    """The pipeline's nextflow.config less its `plugins { ... }` block (nf-schema: not here)."""
    out, n = re.subn(r"\nplugins \{[^{}]*\}\n", "\n", text)
    assert n == 1, "nextflow.config must hold exactly one plugins block"
    assert not re.search(r"id\s+'nf-", out), "a plugin is declared outside the plugins block"
    return out


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("pipeline")
    for name in STAGED:
        (d / name).symlink_to(ROOT / name)
    shutil.copy(ROOT / "tests" / "nextflow" / "main.nf", d / "main.nf")
    (d / "nextflow.config").write_text(config_without_plugins((ROOT / "nextflow.config").read_text()))
    return d


class Run:
    def __init__(self, proc: subprocess.CompletedProcess, outdir: Path, suffix: str, launch: Path):
        self.proc, self.outdir, self.suffix, self.launch = proc, outdir, suffix, launch
        self.log = proc.stdout + proc.stderr

    @property
    def trace(self) -> list[dict]:
        path = self.outdir / "pipeline_info" / f"execution_trace_{self.suffix}.txt"
        with open(path) as fh:
            return list(csv.DictReader(fh, delimiter="\t"))

    def tasks(self, step: str) -> list[dict]:
        return [r for r in self.trace if r["name"].split(" ")[0].endswith(step)]


def nextflow(pipeline: Path, launch: Path, *args: str, outdir: Path | None = None, suffix: str = "run",
             timeout: int = 900, tools_on_path: bool = False) -> Run:
    """`nextflow run <staged pipeline> ...` from the folder `launch` (its work/ and .nextflow/).
    tools_on_path: the project's .venv/bin first on PATH, as for a pipeline without liverannot's bin/
    (a host pipeline with liverannot installed)."""
    launch.mkdir(parents=True, exist_ok=True)
    outdir = outdir or launch / "results"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NXF_")}
    env["NXF_HOME"] = str(ROOT / ".cache" / "nextflow" / "home")
    if tools_on_path:
        env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env['PATH']}"
    else:
        # no liverannot or multiqc on PATH: the tasks must find them through the pipeline's bin/ (the
        # project's .venv), as a run from a fresh clone after `make setup` does
        env["PATH"] = os.pathsep.join(d for d in env["PATH"].split(os.pathsep)
                                      if d and not any((Path(d) / tool).exists() for tool in ("liverannot", "multiqc")))
    cmd = [str(LAUNCHER), "run", str(pipeline), "-ansi-log", "false", "--outdir", str(outdir),
           "--trace_report_suffix", suffix, *args]
    proc = subprocess.run(cmd, cwd=launch, env=env, capture_output=True, text=True, timeout=timeout)
    return Run(proc, outdir, suffix, launch)


def assert_ok(run: Run):
    assert run.proc.returncode == 0, run.log[-6000:]


def write_sheet(path: Path, rows: list[dict]) -> Path:
    cols = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    return path


def read_obs(h5ad: Path):
    import anndata as ad

    return ad.read_h5ad(h5ad)


def documented_outputs() -> list[str]:
    """The published files docs/output.md lists, one pattern a line."""
    text = (ROOT / "docs" / "output.md").read_text()
    block = text.split("<!-- nextflow-outputs:start -->")[1].split("<!-- nextflow-outputs:end -->")[0]
    return [line.split()[0] for line in block.splitlines() if line.startswith("<outdir>")]


def assert_documented_layout(run: Run, samples) -> None:
    """The published files are exactly those docs/output.md lists (both directions)."""
    published = sorted(p.relative_to(run.outdir).as_posix() for p in run.outdir.rglob("*") if p.is_file())
    patterns = []
    for pat in documented_outputs():
        pat = pat.replace("<outdir>/", "").replace("<suffix>", run.suffix)
        for s in samples:
            patterns.append(re.escape(pat.replace("<sample>", s)).replace(r"\*", "[^/]+")
                            + (".+" if pat.endswith("/") else ""))
    unlisted = [p for p in published if not any(re.fullmatch(rx, p) for rx in patterns)]
    assert not unlisted, f"published but not in docs/output.md: {unlisted}"
    for pat in documented_outputs():
        for s in samples:
            rel = pat.replace("<outdir>/", "").replace("<suffix>", run.suffix).replace("<sample>", s)
            hits = list(run.outdir.glob(rel.rstrip("/"))) if "*" in rel else [run.outdir / rel.rstrip("/")]
            assert hits and all(h.exists() for h in hits), f"docs/output.md lists {pat}, the run has no {rel}"


# ------------------------------------------------------------------------------------------
# 1-3: the test profile, -resume, -stub
# ------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def test_profile_run(pipeline, tmp_path_factory) -> Run:
    launch = tmp_path_factory.mktemp("test_profile")
    return nextflow(pipeline, launch, "-profile", "test", suffix="first")


def test_test_profile_runs_every_process_and_publishes_the_documented_layout(test_profile_run):
    run = test_profile_run
    assert_ok(run)
    trace = run.trace
    samples = ("donor1", "donor2")
    # one task per sample (its whole chain), then the cohort step and MultiQC: all completed, none
    # retried; what a SLURM user sees: one job per sample and two for the cohort
    assert sorted(r["tag"] for r in run.tasks(SAMPLE_TASK)) == list(samples)
    assert len(run.tasks("LIVERANNOT_AGGREGATE")) == 1 and len(run.tasks("MULTIQC")) == 1
    assert len(trace) == len(samples) + 2
    assert {r["status"] for r in trace} == {"COMPLETED"}, [(r["name"], r["status"]) for r in trace]
    # no task asked for more than the test profile's ceiling (2 CPUs, 6 GB)
    assert max(int(r["cpus"]) for r in trace) <= 2

    assert_documented_layout(run, samples)

    # annotated h5ads with the calls; the MultiQC report holds liverannot's sections for both samples
    for s in samples:
        a = read_obs(run.outdir / s / f"{s}.annotated.h5ad")
        for col in ("liver_celltype", "liver_lineage", "liver_confidence", "liver_cluster_annotation", "liver_zonation"):
            assert col in a.obs, col
        assert a.n_obs > 250 and a.obs["liver_confidence"].between(0, 1).all()
        hep = a.obs["liver_lineage"].astype(str) == "hepatocyte"
        assert hep.any() and a.obs.loc[hep, "liver_zonation"].between(0, 1).all()
        assert a.uns["liver_classify"]["species"] == "human"
    html = (run.outdir / "multiqc" / "multiqc_report.html").read_text()
    for section in ("liverannot_composition", "liverannot_celltypes", "liverannot_clusters",
                    "liverannot_qc_filters", "liverannot_qc", "liverannot_zonation"):
        assert section in html, section
    qc_filters = (run.outdir / "multiqc" / "multiqc_data" / "multiqc_liverannot_qc_filters_plot.txt").read_text()
    assert all(s in qc_filters for s in samples), qc_filters


def test_the_cohort_benchmark_reads_a_real_execution_trace(test_profile_run, per_step_run):
    """benchmarks/cohort.py's per-task table comes from this trace format: every task parsed, run
    times and peak RSS present, and what each task requested (its label, capped by the profile);
    in both process layouts."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import cohort

    for run, per_sample_procs in ((test_profile_run, {SAMPLE_TASK}), (per_step_run, {f"LIVERANNOT_{s}" for s in STEPS})):
        trace = cohort.read_trace(run.outdir / "pipeline_info" / f"execution_trace_{run.suffix}.txt")
        assert len(trace) == len(run.trace) and trace["realtime_s"].notna().all()
        assert (trace["realtime_s"] > 0).all() and (trace["peak_rss_mb"] > 10).all()
        procs = cohort.per_process(trace).set_index("process")
        assert set(procs.index) == per_sample_procs | {"LIVERANNOT_AGGREGATE", "MULTIQC"}
        assert (procs.loc[sorted(per_sample_procs), "tasks"] == 2).all()
        assert (procs.loc[sorted(per_sample_procs), "memory_mb_requested"] > 0).all()
        per_sample = cohort.per_sample_seconds(trace)
        assert sorted(per_sample.index) == ["donor1", "donor2"]
        steps = trace[trace["process"].isin(per_sample_procs)]
        assert abs(per_sample.sum() - steps["realtime_s"].sum()) < 1e-6


@pytest.fixture(scope="session")
def per_step_run(pipeline, tmp_path_factory) -> Run:
    launch = tmp_path_factory.mktemp("per_step")
    return nextflow(pipeline, launch, "-profile", "test", "--per_step_tasks", suffix="steps")


def test_per_step_tasks_run_each_step_as_a_task_with_the_same_results(per_step_run, test_profile_run):
    """--per_step_tasks: six tasks per sample (the LIVER_ANNOTATION subworkflow), the same published
    layout and the same calls, clusters and zonation as the one-task-per-sample default."""
    import pandas as pd

    run = per_step_run
    assert_ok(run)
    samples = ("donor1", "donor2")
    for step in STEPS:
        assert sorted(r["tag"] for r in run.tasks(f"LIVERANNOT_{step}")) == list(samples), step
    assert not run.tasks(SAMPLE_TASK)
    assert len(run.trace) == len(STEPS) * len(samples) + 2
    assert {r["status"] for r in run.trace} == {"COMPLETED"}
    assert_documented_layout(run, samples)
    for s in samples:
        steps = pd.read_csv(run.outdir / s / f"{s}.cells.csv", index_col="cell")
        whole = pd.read_csv(test_profile_run.outdir / s / f"{s}.cells.csv", index_col="cell")
        assert list(steps.index) == list(whole.index)
        for col in ("liver_celltype", "liver_lineage", "liver_unassigned_reason", "liver_zonation_layer"):
            assert steps[col].fillna(-1).astype(str).equals(whole[col].fillna(-1).astype(str)), (s, col)
        assert np.allclose(steps["liver_confidence"], whole["liver_confidence"], atol=1e-5)
        for qc in (f"qc/{s}.qc.csv", f"qc/{s}.qc.filters.csv", f"{s}.cluster_annotation.csv"):
            assert (run.outdir / s / qc).read_text() == (test_profile_run.outdir / s / qc).read_text(), (s, qc)
    html = (run.outdir / "multiqc" / "multiqc_report.html").read_text()
    assert "liverannot_qc_filters" in html and "liverannot_celltypes" in html


def test_resume_runs_no_task_again(test_profile_run, pipeline):
    assert_ok(test_profile_run)
    again = nextflow(pipeline, test_profile_run.launch, "-profile", "test", "-resume", suffix="resumed",
                     outdir=test_profile_run.outdir)
    assert_ok(again)
    statuses = [(r["name"], r["status"]) for r in again.trace]
    assert len(statuses) == len(test_profile_run.trace)
    assert all(s == "CACHED" for _, s in statuses), statuses


@pytest.mark.parametrize("layout", ["per_sample", "per_step"])
def test_stub_runs_the_whole_pipeline(pipeline, tmp_path, layout):
    extra = ("--per_step_tasks",) if layout == "per_step" else ()
    run = nextflow(pipeline, tmp_path, "-profile", "test", "-stub", *extra)
    assert_ok(run)
    assert len(run.trace) == (len(STEPS) if layout == "per_step" else 1) * 2 + 2
    assert {r["status"] for r in run.trace} == {"COMPLETED"}
    assert (run.outdir / "multiqc" / "multiqc_report.html").exists()


# ------------------------------------------------------------------------------------------
# 4: retries and failures
# ------------------------------------------------------------------------------------------

def _memory_gb(text: str) -> float:
    value, unit = text.split()
    return float(value) * {"MB": 1 / 1024, "GB": 1, "TB": 1024}[unit]


def _hours(text: str) -> float:
    value, unit = text.split() if " " in text else (text[:-1], text[-1])
    return float(value) * {"h": 1, "m": 1 / 60, "s": 1 / 3600, "d": 24}[unit]


def retried_once(pipeline, tmp_path, before_first_attempt: str):
    """One sample through the test profile, its task's first attempt preceded by `before_first_attempt`
    (a beforeScript line): the run, and the task's two attempts, which must be a failure with exit
    137 and a success with more memory."""
    sheet = write_sheet(tmp_path / "sheet.csv", [{"sample": "donor2", "input": str(ROOT / "assets/test_data/donor2.h5ad"),
                                                  "species": "human"}])
    config = tmp_path / "first_attempt.config"
    config.write_text(f"process {{\n  withName: '{SAMPLE_TASK}' {{\n"
                      f"    beforeScript = {{ task.attempt == 1 ? '{before_first_attempt}' : 'true' }}\n  }}\n}}\n")
    run = nextflow(pipeline, tmp_path / "launch", "-profile", "test", "--input", str(sheet), "-c", str(config))
    assert_ok(run)
    first, second = sorted(run.tasks(SAMPLE_TASK), key=lambda r: int(r["attempt"]))
    assert (first["attempt"], first["status"], first["exit"]) == ("1", "FAILED", "137")
    assert (second["attempt"], second["status"], second["exit"]) == ("2", "COMPLETED", "0")
    assert _memory_gb(second["memory"]) > _memory_gb(first["memory"])
    assert (run.outdir / "multiqc" / "multiqc_report.html").exists()
    return run, first, second


def test_a_killed_task_is_retried_with_more_memory_and_time(pipeline, tmp_path):
    """Exit 137 (SIGKILL: the OOM killer, SLURM's memory limit) on the first attempt of a sample's task."""
    run, first, second = retried_once(pipeline, tmp_path, "exit 137")
    assert _hours(second["time"]) > _hours(first["time"])
    assert "Execution is retried" in run.log


def test_a_sample_that_does_not_fit_its_tasks_memory_is_retried_with_more(pipeline, tmp_path):
    """A sample's task finds less memory than its chain needs (here a cap on the first attempt, as a
    SLURM job's limit would be): liverannot stops before any work with its message and exit 137, and
    the task is retried with more memory instead of failing the run."""
    run, first, _ = retried_once(pipeline, tmp_path, "export LIVERANNOT_MAX_MEMORY_MB=300")
    err = (Path(first["workdir"]) / ".command.err").read_text()
    assert "sample donor2:" in err and "GB is available here" in err and "Traceback" not in err
    assert (run.outdir / "donor2" / "donor2.annotated.h5ad").exists()


@pytest.fixture(scope="module")
def sheet_with_a_broken_sample(tmp_path_factory):
    d = tmp_path_factory.mktemp("broken")
    broken = d / "broken.h5ad"
    broken.write_bytes(b"this is not an HDF5 file\n" * 100)
    return write_sheet(d / "sheet.csv", [
        {"sample": "donor2", "input": str(ROOT / "assets/test_data/donor2.h5ad"), "species": "human"},
        {"sample": "broken", "input": "broken.h5ad", "species": "human"}])


def test_a_sample_that_fails_stops_the_run_naming_it(pipeline, tmp_path, sheet_with_a_broken_sample):
    run = nextflow(pipeline, tmp_path, "-profile", "test", "--input", str(sheet_with_a_broken_sample))
    assert run.proc.returncode != 0
    assert f"{SAMPLE_TASK} (broken)" in run.log
    assert "broken.h5ad: not an HDF5 file" in run.log   # liverannot's own message, no traceback
    assert "Traceback" not in run.log
    assert not (run.outdir / "multiqc" / "multiqc_report.html").exists()
    failed = [r for r in run.trace if r["status"] == "FAILED"]
    assert [r["tag"] for r in failed] == ["broken"] and failed[0]["attempt"] == "1"   # exit 1: no retry


def test_with_ignore_failed_samples_the_other_samples_finish(pipeline, tmp_path, sheet_with_a_broken_sample):
    run = nextflow(pipeline, tmp_path, "-profile", "test", "--input", str(sheet_with_a_broken_sample),
                   "--ignore_failed_samples")
    assert_ok(run)
    assert "1 sample(s) failed and are not in the cohort tables or the MultiQC report: broken" in run.log
    assert (run.outdir / "donor2" / "donor2.annotated.h5ad").exists()
    assert not (run.outdir / "broken").exists()
    lineage = (run.outdir / "cohort" / "cohort_lineage_composition.csv").read_text()
    assert "donor2" in lineage and "broken" not in lineage
    assert (run.outdir / "multiqc" / "multiqc_report.html").exists()


def test_a_missing_input_stops_the_run_before_any_task(pipeline, tmp_path):
    sheet = write_sheet(tmp_path / "sheet.csv", [{"sample": "ghost", "input": "does_not_exist.h5ad", "species": "human"}])
    run = nextflow(pipeline, tmp_path / "launch", "--input", str(sheet))
    assert run.proc.returncode != 0
    assert "input of sample 'ghost' not found" in run.log
    assert not (run.outdir / "pipeline_info" / f"execution_trace_{run.suffix}.txt").exists() or not run.trace


# ------------------------------------------------------------------------------------------
# 5: mixed species in one run
# ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mixed_species(tmp_path_factory):
    from liverannot.demo import simulate_sample
    from liverannot.io import write_h5ad

    d = tmp_path_factory.mktemp("mixed")
    write_h5ad(simulate_sample("mouse", n_cells=300, seed=5), d / "mouse.h5ad")
    write_h5ad(simulate_sample("human", n_cells=300, seed=6), d / "unlabelled.h5ad")
    sheet = write_sheet(d / "sheet.csv", [
        {"sample": "human1", "input": str(ROOT / "assets/test_data/donor2.h5ad"), "species": "human"},
        {"sample": "mouse1", "input": "mouse.h5ad", "species": "mouse"},
        {"sample": "unlabelled", "input": "unlabelled.h5ad", "species": ""}])
    return d, sheet


def command(run: Run, step: str, sample: str) -> str:
    """The script a step ran for a sample (a cached task's trace row names the folder that ran it)."""
    (task,) = [r for r in run.tasks(step) if r["tag"] == sample and r["status"] != "FAILED"]
    return (Path(task["workdir"]) / ".command.sh").read_text()


def test_each_sample_is_classified_with_its_own_species_model(pipeline, mixed_species):
    d, sheet = mixed_species
    launch = d / "launch"
    plain = nextflow(pipeline, launch, "-profile", "test", "--input", str(sheet), suffix="plain",
                     outdir=d / "plain")
    assert_ok(plain)
    species = {s: read_obs(plain.outdir / s / f"{s}.annotated.h5ad").uns["liver_classify"]["species"]
               for s in ("human1", "mouse1", "unlabelled")}
    assert species == {"human1": "human", "mouse1": "mouse", "unlabelled": "human"}   # the last detected
    assert "--species" not in command(plain, SAMPLE_TASK, "unlabelled")

    # a pipeline-level --species is the default for samples without one; it overrides no sample's own
    forced = nextflow(pipeline, launch, "-profile", "test", "--input", str(sheet), "--species", "human",
                      "-resume", suffix="forced", outdir=d / "forced")
    assert_ok(forced)
    species = {s: read_obs(forced.outdir / s / f"{s}.annotated.h5ad").uns["liver_classify"]["species"]
               for s in ("human1", "mouse1", "unlabelled")}
    assert species == {"human1": "human", "mouse1": "mouse", "unlabelled": "human"}
    assert "--species mouse" in command(forced, SAMPLE_TASK, "mouse1")
    assert "--species human" in command(forced, SAMPLE_TASK, "unlabelled")
    mouse_calls = read_obs(forced.outdir / "mouse1" / "mouse1.annotated.h5ad").obs["liver_celltype"]
    assert mouse_calls.str.contains("Hepatocyte|hepatocyte|Hep").mean() > 0.2


# ------------------------------------------------------------------------------------------
# 6: the subworkflow alone, on an h5ad shaped like nf-core/scrnaseq's
# ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scrnaseq_like(tmp_path_factory):
    """Ensembl IDs as var_names, symbols in var['gene_symbols'], raw counts in layers['counts'] and
    log-normalized values in X (what an upstream pipeline or a scanpy user leaves)."""
    import scanpy as sc
    from liverannot.demo import simulate_sample
    from liverannot.io import write_h5ad

    d = tmp_path_factory.mktemp("scrnaseq")
    a = simulate_sample("human", n_cells=300, seed=8)
    a.var["gene_symbols"] = a.var_names.astype(str)
    a.var_names = [f"ENSG{i:011d}" for i in range(a.n_vars)]
    a.layers["counts"] = a.X.copy()
    sc.pp.normalize_total(a, target_sum=1e4)
    sc.pp.log1p(a)
    write_h5ad(a, d / "liver_filtered_matrix.h5ad")
    counts_per_cell = dict(zip(a.obs_names, np.asarray(a.layers["counts"].sum(axis=1)).ravel()))
    sheet = write_sheet(d / "sheet.csv", [
        {"sample": "given", "input": "liver_filtered_matrix.h5ad", "species": "human",
         "symbol_col": "gene_symbols", "counts_layer": "counts"},
        {"sample": "detected", "input": "liver_filtered_matrix.h5ad", "species": "",
         "symbol_col": "", "counts_layer": ""}])
    return d, sheet, counts_per_cell


@pytest.fixture(scope="module")
def subworkflow_run(pipeline, scrnaseq_like) -> Run:
    d, sheet, _ = scrnaseq_like
    # no -profile test: the pipeline's own labels and defaults, as a laptop run gets them (this
    # machine has 2 cores; a label asking for more stops the run before any task)
    return nextflow(pipeline, d / "launch", "-entry", "SUBWORKFLOW", "--input", str(sheet))


def test_the_subworkflow_alone_on_an_nf_core_scrnaseq_h5ad(subworkflow_run, scrnaseq_like):
    import pandas as pd

    d, sheet, counts_per_cell = scrnaseq_like
    run = subworkflow_run
    assert_ok(run)
    assert max(int(r["cpus"]) for r in run.trace) <= 2 and max(_memory_gb(r["memory"]) for r in run.trace) <= 8
    assert len(run.trace) == len(STEPS) * 2 and {r["status"] for r in run.trace} == {"COMPLETED"}
    for step in ("LIVERANNOT_QC", "LIVERANNOT_CLASSIFY"):
        given, detected = command(run, step, "given"), command(run, step, "detected")
        assert "--symbol-col gene_symbols" in given and "--layer counts" in given, step
        assert "--symbol-col" not in detected and "--layer" not in detected, step
    calls = {}
    for s in ("given", "detected"):
        qc_table = pd.read_csv(run.outdir / s / "qc" / f"{s}.qc.csv", index_col=0)
        # QC measured the raw counts, not the log values in X
        assert np.allclose(qc_table["total_counts"], [counts_per_cell[c] for c in qc_table.index])
        a = read_obs(run.outdir / s / f"{s}.annotated.h5ad")
        assert a.uns["liver_classify"]["species"] == "human"
        assert a.uns["liver_classify"]["n_shared_genes"] > 0.9 * a.uns["liver_classify"]["n_model_genes"]
        assert (a.obs["liver_lineage"] != "unassigned").mean() > 0.8
        calls[s] = a.obs["liver_celltype"]
    # with and without the meta fields: the same calls
    assert (calls["given"] == calls["detected"].loc[calls["given"].index]).all()


# ------------------------------------------------------------------------------------------
# 7: a host pipeline installs the subworkflow with nf-core tools and runs it (README "Use it in
#    your pipeline": the commands and the conf/modules.config there are the ones run here)
# ------------------------------------------------------------------------------------------

def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"### {title}\n")
    end = text.find("\n#", start + 4)
    return text[start:end]


def readme_command(section: str, verb: str) -> list[str]:
    """The README's `nf-core subworkflows --git-remote <url> --branch <b> <verb> ...` command."""
    (line,) = [ln for ln in section.splitlines() if ln.startswith("nf-core subworkflows --git-remote") and f" {verb} " in ln]
    return line.split()


HOST_MAIN = """\
#!/usr/bin/env nextflow
// A host pipeline in nf-core layout: the entry workflow, workflows/, conf/, modules.json
include { HOST } from './workflows/host'

workflow {
    HOST ( params.input )
}
"""

HOST_WORKFLOW = """\
INCLUDE_LINE

workflow HOST {
    take:
    samplesheet

    main:
    ch_h5ad = channel.fromPath(samplesheet)
        .splitCsv(header: true)
        .map { row ->
            def meta = [ id: row.sample ]
            if (row.species)      { meta.species      = row.species }
            if (row.symbol_col)   { meta.symbol_col   = row.symbol_col }
            if (row.counts_layer) { meta.counts_layer = row.counts_layer }
            [ meta, file(row.input, checkIfExists: true) ]
        }
    LIVER_ANNOTATION ( ch_h5ad )
}
"""

HOST_CONFIG = """\
manifest {
    name            = 'example/host'
    version         = '2.3.0'
    nextflowVersion = '!>=24.10.0'
}
params {
    input               = null
    outdir              = 'results'
    trace_report_suffix = 'host'
}
includeConfig 'conf/modules.config'
process {
    withName: '.*:LIVER_ANNOTATION:LIVERANNOT_ANNOTATE' {
        publishDir = [ path: { "${params.outdir}/${meta.id}" }, mode: 'copy', pattern: '*.annotated.h5ad' ]
    }
}
trace {
    enabled = true
    file    = "${params.outdir}/pipeline_info/execution_trace_${params.trace_report_suffix}.txt"
    fields  = 'task_id,name,tag,status,exit,workdir'
}
"""


def make_host(folder: Path, include_line: str, modules_config: str) -> Path:
    (folder / "workflows").mkdir(parents=True)
    (folder / "conf").mkdir()
    (folder / "main.nf").write_text(HOST_MAIN)
    (folder / "workflows" / "host.nf").write_text(HOST_WORKFLOW.replace("INCLUDE_LINE", include_line))
    (folder / "conf" / "modules.config").write_text(modules_config)
    (folder / "nextflow.config").write_text(HOST_CONFIG)
    (folder / ".nf-core.yml").write_text("repository_type: pipeline\n")
    (folder / "modules.json").write_text(json.dumps(
        {"name": "example/host", "homePage": "https://example.org/host", "repos": {}}, indent=4) + "\n")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "host pipeline"]):
        subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True,
                       env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost",
                            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@localhost"})
    return folder


def installed(host: Path, url: str) -> dict[str, str]:
    """component -> git_sha that the host's modules.json records for the components repository."""
    repo = json.loads((host / "modules.json").read_text())["repos"][url]
    out = {f"modules/{name}": v["git_sha"] for name, v in repo["modules"]["liverannot"].items()}
    out.update({f"subworkflows/{name}": v["git_sha"] for name, v in repo["subworkflows"]["liverannot"].items()})
    return out


from components_remote import NF_CORE as NF_CORE_TOOLS  # noqa: E402

HOST_STEPS = ("qc", "normalize", "cluster", "classify", "annotate", "report")


@pytest.mark.skipif(not NF_CORE_TOOLS.exists() and not os.environ.get("LIVERANNOT_REQUIRE_NEXTFLOW"),
                    reason="nf-core tools missing (scripts/get_nf_core.sh)")
def test_a_host_pipeline_installs_the_subworkflow_with_nf_core_tools_and_runs_it(subworkflow_run, scrnaseq_like,
                                                                                 tmp_path):
    from components_remote import ComponentsRemote, copy_sources, nf_core_env

    d, sheet, _ = scrnaseq_like
    section = readme_section("Use it in your pipeline")
    (include_line,) = [ln for ln in section.splitlines() if ln.startswith("include { LIVER_ANNOTATION }")]
    (modules_config,) = [b for b in re.findall(r"```groovy\n(.*?)```", section, re.S)
                         if b.startswith("// conf/modules.config of your pipeline")]
    host = make_host(tmp_path / "host", include_line, modules_config)
    remote = ComponentsRemote(tmp_path / "remote")
    env = nf_core_env(tmp_path / "home")
    try:
        # install, with the README's command pointed at the local remote
        cmd = readme_command(section, "install")
        assert cmd[3] == "https://github.com/liverannot/liverannot.git" and cmd[4:6] == ["--branch", "components"]
        cmd[3] = remote.url
        r = subprocess.run([str(NF_CORE_TOOLS), *cmd[1:], "--dir", str(host)], capture_output=True, text=True,
                           env=env, timeout=600)
        assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
        first = remote.sha
        expected = {f"modules/liverannot/{s}" for s in HOST_STEPS} | {"subworkflows/liver_annotation"}
        assert installed(host, remote.url) == {c: first for c in expected}
        for step in HOST_STEPS:
            for name in ("main.nf", "meta.yml", "environment.yml"):
                assert (host / "modules/liverannot/liverannot" / step / name).read_bytes() == \
                    (ROOT / "modules/local" / step / name).read_bytes(), (step, name)

        # the host runs it: liverannot on PATH, as after `pip install` (no container here)
        host_sheet = write_sheet(tmp_path / "host_sheet.csv", [
            {**row, "input": str(d / row["input"])} for row in csv.DictReader(open(sheet))])
        outdir = tmp_path / "host_results"
        run = nextflow(host, tmp_path / "host_launch", "--input", str(host_sheet), outdir=outdir, suffix="host",
                       tools_on_path=True)
        assert_ok(run)
        assert len(run.trace) == 2 * len(HOST_STEPS) and {r["status"] for r in run.trace} == {"COMPLETED"}
        # the README's conf/modules.config turned the meta fields into options
        given, detected = command(run, "LIVERANNOT_CLASSIFY", "given"), command(run, "LIVERANNOT_CLASSIFY", "detected")
        assert "--species human --symbol-col gene_symbols --layer counts" in given
        assert "--species" not in detected and "--symbol-col" not in detected
        assert "--symbol-col gene_symbols --layer counts" in command(run, "LIVERANNOT_QC", "given")
        # the same calls as the pipeline's own run of the same samples
        assert_ok(subworkflow_run)
        for s in ("given", "detected"):
            ours = read_obs(subworkflow_run.outdir / s / f"{s}.annotated.h5ad").obs
            theirs = read_obs(outdir / s / f"{s}.annotated.h5ad").obs
            assert list(theirs.index) == list(ours.index)
            for col in [c for c in ours.columns if c.startswith("liver_") or c == "leiden"]:
                if ours[col].dtype.kind == "f":
                    assert np.allclose(ours[col], theirs[col], equal_nan=True), (s, col)
                else:
                    assert (ours[col].astype(str) == theirs[col].astype(str)).all(), (s, col)

        # a module changes upstream: publish again, then the README's update command
        source = copy_sources(tmp_path / "changed")
        classify = source / "modules/local/classify/main.nf"
        classify.write_text(classify.read_text().replace("process LIVERANNOT_CLASSIFY {",
                                                         "// calls unchanged, a comment added upstream\n"
                                                         "process LIVERANNOT_CLASSIFY {", 1))
        second = remote.publish(source, message="classify: a comment")
        assert second != first
        cmd = readme_command(section, "update")
        cmd[3] = remote.url
        r = subprocess.run([str(NF_CORE_TOOLS), *cmd[1:], "--dir", str(host)], capture_output=True, text=True,
                           env=env, timeout=600)
        if r.returncode != 0:
            # nf-core tools 4.2.1 then checks for newly included modules with an installer that first
            # clones nf-core/modules from GitHub (README): the one failure allowed offline, after the update
            out = r.stdout + r.stderr
            assert "Failed to clone from the remote" in out and "github.com/nf-core/modules" in out, out[-4000:]
        versions = installed(host, remote.url)
        assert versions.pop("modules/liverannot/classify") == second
        assert versions.pop("subworkflows/liver_annotation") == second
        assert set(versions.values()) == {first}
        assert (host / "modules/liverannot/liverannot/classify/main.nf").read_bytes() == classify.read_bytes()
        check = subprocess.run(["sha256sum", "-c", "subworkflows/liverannot/liver_annotation/modules.sha256"],
                               cwd=host, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        remote.close()


# ------------------------------------------------------------------------------------------
# the strict syntax (default from Nextflow 26.04), checked with nf-lang
# ------------------------------------------------------------------------------------------

# Future deprecations that the nf-core module and workflow templates still use everywhere; every
# other warning fails, as does every error but the known false positives of nf-lang 25.04.0 (the
# only release on Maven Central), whose name checker knows `task` and not the process's inputs in
# config closures: `meta` "not defined" in a closure of a config file (a process directive's, e.g.
# ext.args = { meta.species ... }, tag = { meta.id }: meta is the task's input, defined when the
# closure runs; nf-core's modules.config files are full of them), and `task` "not defined" in a
# closure nested in a directive's map (publishDir: [path: { ... }]), fixed upstream in 25.04.5
# (nextflow-io/nextflow#6203). The real runs evaluate every one of these closures.
ALLOWED_WARNINGS = ("Process `when` section will not be supported in a future version",
                    "The use of `params` outside the entry workflow will not be supported in a future version")


def strict_syntax(*files: Path) -> list[str]:
    cp = os.pathsep.join(str(j) for j in NF_LANG[-1].glob("*.jar"))
    r = subprocess.run(["java", "-cp", cp, "groovy.ui.GroovyMain", str(ROOT / "tests/nextflow/strict_syntax.groovy"),
                        *map(str, files)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and f"CHECKED {len(files)}" in r.stdout, r.stdout + r.stderr
    problems = []
    for line in r.stdout.splitlines():
        kind, _, rest = line.partition(" ")
        if kind not in ("ERROR", "WARN"):
            continue
        where, _, message = rest.partition(": ")
        path, lineno = where.rsplit(":", 2)[0], int(where.rsplit(":", 2)[1])
        if kind == "WARN" and message in ALLOWED_WARNINGS:
            continue
        if kind == "ERROR" and path.endswith(".config") and message == "`meta` is not defined":
            continue
        if (kind == "ERROR" and path.endswith(".config") and message == "`task` is not defined"
                and re.search(r"\bpath:\s*\{", Path(path).read_text().splitlines()[lineno - 1])):
            continue
        problems.append(line)
    return problems


def nextflow_files() -> list[Path]:
    files = [ROOT / "main.nf", ROOT / "nextflow.config", *sorted((ROOT / "conf").glob("*.config"))]
    for d in ("workflows", "subworkflows", "modules"):
        files += sorted((ROOT / d).rglob("*.nf"))
    return files


def test_every_nextflow_file_passes_the_strict_syntax(pipeline):
    files = nextflow_files() + [pipeline / "main.nf"]   # the test entry, where its includes resolve
    assert strict_syntax(*files) == []
    # nf-lang 25.04.0 does not warn of these yet; the strict syntax no longer has them
    for f in files:
        code = re.sub(r"//.*|/\*.*?\*/", "", f.read_text(), flags=re.S)
        assert not re.search(r"\bChannel\s*\.", code), f"{f}: use `channel`, not `Channel`"


def test_the_strict_syntax_check_can_fail(tmp_path):
    bad = tmp_path / "bad.config"
    bad.write_text("def stamp = new java.util.Date().format('yyyy')\ntrace {\n    file = \"trace_${stamp}.txt\"\n}\n")
    worse = tmp_path / "bad.nf"
    worse.write_text("workflow {\n    channel.of(1, 2).map { it * 2 }.view()\n}\n")
    # the allowance for `meta` in config closures is for `meta` only: a misspelt name still fails
    typo = tmp_path / "typo.config"
    typo.write_text("process {\n    withName: 'FOO' {\n        ext.args = { \"--species ${mata.species}\" }\n    }\n}\n")
    problems = strict_syntax(bad, worse, typo)
    assert any("Variable declarations cannot be mixed with config statements" in p for p in problems), problems
    assert any("Implicit closure parameter `it`" in p for p in problems), problems
    assert any("typo.config" in p and "`mata` is not defined" in p for p in problems), problems


# ------------------------------------------------------------------------------------------
# the manifest names the pipeline as `nextflow run` resolves it
# ------------------------------------------------------------------------------------------

def test_the_launcher_is_the_pinned_nextflow_offline():
    pinned = re.search(r"<nextflow.version>(.+)</nextflow.version>", (ROOT / "scripts/nextflow/pom.xml").read_text()).group(1)
    r = subprocess.run([str(LAUNCHER), "-version"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and f"version {pinned} " in r.stdout, r.stdout + r.stderr
    assert "export NXF_OFFLINE=${NXF_OFFLINE:-true}" in LAUNCHER.read_text()


def test_the_manifest_name_is_owner_slash_name_and_the_docs_run_that_name(tmp_path):
    r = subprocess.run([str(LAUNCHER), "config", "-flat", str(ROOT)], capture_output=True, text=True, cwd=tmp_path,
                       env={**os.environ, "NXF_HOME": str(ROOT / ".cache" / "nextflow" / "home")}, timeout=300)
    assert r.returncode == 0, r.stderr
    name = re.search(r"^manifest\.name = '([^']+)'", r.stdout, re.M).group(1)
    assert re.fullmatch(r"[\w.-]+/[\w.-]+", name), name
    for doc in (ROOT / "README.md", ROOT / "docs" / "usage.md"):
        targets = re.findall(r"nextflow run (\S+)", doc.read_text())
        assert targets and all(t in (name, ".") or t.startswith("$") for t in targets), (doc.name, targets)


EXPECTED_PROFILES = {
    # profiles no test can run here (no Docker engine, Singularity, conda channel or cloud account):
    # their resolved configuration, as `nextflow config -profile` gives it
    "awsbatch": {"process.executor": "'awsbatch'", "docker.enabled": "true", "aws.region": "'eu-west-1'"},
    "google": {"process.executor": "'google-batch'", "docker.enabled": "true", "google.batch.spot": "true"},
    "azure": {"process.executor": "'azurebatch'", "docker.enabled": "true", "azure.batch.autoPoolMode": "true"},
    "docker": {"docker.enabled": "true", "podman.enabled": "false"},
    "singularity": {"singularity.enabled": "true", "singularity.autoMounts": "true", "docker.enabled": "false"},
    "apptainer": {"apptainer.enabled": "true", "docker.enabled": "false"},
    "conda": {"conda.enabled": "true", "docker.enabled": "false"},
    "slurm,singularity": {"process.executor": "'slurm'", "singularity.enabled": "true"},
}


@pytest.mark.parametrize("profile", sorted(EXPECTED_PROFILES))
def test_the_profiles_that_are_not_run_resolve(profile, tmp_path):
    r = subprocess.run([str(LAUNCHER), "config", "-flat", "-profile", profile, str(ROOT)], capture_output=True,
                       text=True, cwd=tmp_path, env={**os.environ, "NXF_HOME": str(ROOT / ".cache" / "nextflow" / "home")},
                       timeout=300)
    assert r.returncode == 0, r.stderr
    flat = dict(line.split(" = ", 1) for line in r.stdout.splitlines() if " = " in line)
    for key, value in EXPECTED_PROFILES[profile].items():
        assert flat.get(key) == value, (profile, key, flat.get(key))


# ------------------------------------------------------------------------------------------
# the MultiQC report, opened as a person opens it
# ------------------------------------------------------------------------------------------

from browser import needs_chromium, render, rendered_plot_ids, section_titles  # noqa: E402


@needs_chromium()
def test_the_pipelines_multiqc_report_renders_its_sections_tables_and_plots(test_profile_run):
    assert_ok(test_profile_run)
    dom, console = render(test_profile_run.outdir / "multiqc" / "multiqc_report.html")
    titles = section_titles(dom)
    for title in ("General Statistics", "Cell QC", "QC filters", "Liver lineage composition",
                  "Liver cell-type composition", "Hepatocyte zonation", "Cluster annotation", "Software Versions",
                  "liverannot/liverannot Workflow Summary"):
        assert title in titles, (title, titles)
    assert {"liverannot_composition_plot", "liverannot_celltypes_plot", "liverannot_qc_filters_plot",
            "liverannot_zonation_plot"} <= rendered_plot_ids(dom)
    for sample in ("donor1", "donor2"):   # rows of the general-statistics and cluster tables
        assert f">{sample}<" in dom and f"{sample}_cluster0" in dom
    assert "<dt>model</dt><dd><samp>nn</samp>" in dom   # the run's parameters
    assert not [m for m in console if "Uncaught" in m or "rror" in m], console


@needs_chromium()
def test_the_browser_check_sees_a_script_error(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<html><body><h2>A</h2><script>notAFunction();</script></body></html>")
    dom, console = render(page)
    assert section_titles(dom) == ["A"]
    assert any("Uncaught ReferenceError: notAFunction is not defined" in m for m in console), console
