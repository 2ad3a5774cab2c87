"""The whole chain for one sample, and ``run`` over a samplesheet (the single-machine default)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import LiverannotError
from .io import read_input, same_file, write_h5ad, write_table
from .samplesheet import read_samplesheet

log = logging.getLogger(__name__)


@dataclass
class RunSettings:
    species: str | None = None
    model: str = "nn"
    mode: str = "mode"
    min_genes: int = 200
    min_cells: int = 3
    max_pct_mt: float = 20.0
    doublets: bool = False
    target_sum: float = 1e4
    resolution: float = 1.0
    n_top_genes: int = 2000
    n_pcs: int = 30
    seed: int = 0
    symbol_col: str | None = None
    counts_layer: str | None = None
    min_confidence: float | None = None
    zonation: bool = True
    extra: dict = field(default_factory=dict)


def process_sample(adata, sample: str, settings: RunSettings, outdir: Path):
    """qc -> normalize -> cluster -> classify -> annotate -> outputs, for one sample: in ``outdir`` the
    same files as the per-step subcommands (and the pipeline's per-step tasks) publish, QC tables in
    ``outdir/qc``."""
    from . import api, cluster, normalize, report
    from .qc import run_qc, write_qc_tables

    t0 = time.perf_counter()
    steps = {}

    def step(name, since):
        now = time.perf_counter()
        steps[name] = round(now - since, 2)
        log.info("[%s] %s: %.1fs", sample, name, now - since)
        return now

    t = t0
    filtered, filters = run_qc(adata, layer=settings.counts_layer, symbol_col=settings.symbol_col,
                               min_genes=settings.min_genes, min_cells=settings.min_cells,
                               max_pct_mt=settings.max_pct_mt, doublets=settings.doublets,
                               random_state=settings.seed, name=sample, copy=False)
    write_qc_tables(adata, filtered, filters, sample, outdir / "qc" / f"{sample}.qc.csv")
    adata = filtered   # the unfiltered matrix is freed here (the caller keeps no name for it)
    log.info("[%s] %d cells after QC", sample, adata.n_obs)
    t = step("qc", t)
    normalize.normalize(adata, target_sum=settings.target_sum)
    t = step("normalize", t)
    cluster.cluster(adata, resolution=settings.resolution, n_top_genes=settings.n_top_genes,
                    n_pcs=settings.n_pcs, random_state=settings.seed)
    t = step("cluster", t)
    # the species is detected when the sample has none; shipped models are loaded once per process
    api.classify(adata, species=settings.species, model=settings.model, symbol_col=settings.symbol_col,
                 min_confidence=settings.min_confidence, zonation=settings.zonation)
    t = step("classify", t)
    table = api.annotate(adata, mode=settings.mode)
    t = step("annotate", t)
    outdir.mkdir(parents=True, exist_ok=True)
    write_h5ad(adata, outdir / f"{sample}.annotated.h5ad")
    write_table(table, outdir / f"{sample}.cluster_annotation.csv")
    obs_cols = [c for c in adata.obs.columns if c.startswith("liver_") or c in ("leiden", "n_genes", "total_counts", "pct_counts_mt")]
    write_table(adata.obs[obs_cols], outdir / f"{sample}.cells.csv", index_label="cell")
    t = step("write", t)
    report.sample_plots(adata, outdir / "plots", sample)
    t = step("plots", t)
    summary = report.sample_summary(adata, sample, table)
    summary["seconds"] = steps
    summary["cluster_seconds"] = adata.uns.get("liverannot", {}).get("cluster", {}).get("seconds", {})
    report.write_summary(summary, outdir / f"{sample}.summary.json")
    log.info("[%s] done in %.1fs: %d clusters, %d unassigned cells", sample, time.perf_counter() - t0,
             len(table), adata.uns["liver_classify"]["n_unassigned"])
    return adata, table, summary


def read_checked(path, what: str):
    """read_input, after (or, for formats whose size cannot be read first, right after) checking that
    the chain of one sample of that size fits in the memory there is (resources.check_memory)."""
    from . import resources

    size = resources.peek_size(path)
    if size is not None:
        resources.check_memory(*size, what=what)
    adata = read_input(path)
    if size is None:
        resources.check_memory(adata.n_obs, resources.stored_counts(adata.X), what=what)
    return adata


def run(samplesheet: str | Path, outdir: str | Path, settings: RunSettings, *, multiqc: bool = True) -> dict:
    """Run every sample of the samplesheet, then the cohort tables and the MultiQC report."""
    from .report import aggregate

    outdir = Path(outdir)
    samples = read_samplesheet(samplesheet)
    # every import stays on this thread: umap-learn (scikit-learn) imported in a thread while this one
    # loaded scikit-learn's modules made Python break an import deadlock with "ImportError: cannot
    # import name ... from partially initialized module" (2 runs of a CI's 274 tests, stop 47)
    for s in samples:
        if same_file(s.input, outdir):
            raise LiverannotError(f"--outdir {outdir} is the input of sample {s.sample}; choose another folder.")
    failures = []
    summaries = []
    for i, s in enumerate(samples, 1):
        log.info("sample %d/%d: %s (%s)", i, len(samples), s.sample, s.input)
        try:
            st = RunSettings(**{**settings.__dict__, "species": s.species or settings.species})
            # no name holds the sample as read: QC's filtered copy replaces it inside process_sample,
            # and the unfiltered matrix is freed (1.6 GB at 100,000 cells) instead of kept to the end
            process_sample(read_checked(s.input, f"sample {s.sample}"), s.sample, st, outdir / s.sample)
            summaries.append(outdir / s.sample / f"{s.sample}.summary.json")
        except LiverannotError as exc:
            failures.append(f"sample {s.sample} (samplesheet line {s.line}): {exc}")
            log.error("sample %s failed: %s", s.sample, exc)
    if failures and not summaries:
        raise LiverannotError("every sample failed:\n  " + "\n  ".join(failures))
    # the samples' QC-filter tables join the cohort's MultiQC sections, as in the pipeline's report
    result = aggregate(summaries, outdir / "cohort", multiqc=multiqc,
                       extra_dirs=sorted({p.parent / "qc" for p in summaries}))
    if failures:
        raise LiverannotError(f"{len(failures)} of {len(samples)} samples failed (the others are in {outdir}):\n  "
                              + "\n  ".join(failures))
    return result
