"""Per-sample plots and summaries, cohort aggregation and the MultiQC report."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import LiverannotError
from .io import atomic_path, write_table, write_text
from .reference import data_path, lineage_vocabulary

log = logging.getLogger(__name__)


def markdown_table(df: pd.DataFrame, index: bool = False) -> str:
    """A Markdown table (floats: 3 decimals, or thousands separators from 100 up)."""
    df = df.reset_index() if index else df

    def cell(v):
        if isinstance(v, float):
            return "" if np.isnan(v) else (f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3f}")
        return str(v)

    head = "| " + " | ".join(map(str, df.columns)) + " |\n| " + " | ".join("---" for _ in df.columns) + " |\n"
    return head + "\n".join("| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False))


def mean_range_table(df: pd.DataFrame, by: list[str], cols: list[str]) -> pd.DataFrame:
    """Per group of ``by`` (first-seen order), each of ``cols`` as "mean [min, max]" (3 decimals):
    the benchmarks' summary over seeds or random draws."""
    g = df.groupby(by, sort=False)
    out = g[cols].mean()
    for c in cols:
        out[c] = [f"{m:.3f} [{lo:.3f}, {hi:.3f}]" for m, lo, hi in zip(g[c].mean(), g[c].min(), g[c].max())]
    return out.reset_index()


def sample_plots(adata, outdir: str | Path, sample: str, *, key: str = "liver",
                 cluster_key: str = "leiden") -> list[Path]:
    """The figures of :mod:`liverannot.pl` as PNG: UMAP by cluster, cluster annotation and per-cell
    call (when the sample has a UMAP), cell-type composition, confidence distribution."""
    from . import pl

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    if "X_umap" in adata.obsm:
        written.append(_savefig(pl.umap(adata, key=key, groupby=cluster_key, title=sample), outdir / f"{sample}_umap.png"))
    written.append(_savefig(pl.composition(adata, key=key, title=sample), outdir / f"{sample}_composition.png"))
    written.append(_savefig(pl.confidence(adata, key=key, title=sample), outdir / f"{sample}_confidence.png"))
    zon = f"{key}_zonation"
    if zon in adata.obs and np.isfinite(adata.obs[zon].to_numpy(dtype=float)).any():
        written.append(_savefig(pl.zonation(adata, key=key, title=sample), outdir / f"{sample}_zonation.png"))
    return written


def _savefig(fig, path: Path) -> Path:
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    return path


def sample_summary(adata, sample: str, cluster_table: pd.DataFrame | None, *, key: str = "liver") -> dict:
    """A JSON-able summary of one sample: QC, composition, cluster table, settings."""
    obs = adata.obs
    info = adata.uns.get("liverannot", {})
    cls = adata.uns.get(f"{key}_classify", {})
    lineage_counts = obs[f"{key}_lineage"].value_counts()
    qc = info.get("qc", {})
    return {
        "sample": sample,
        "qc": {
            "cells_before_qc": qc.get("cells_before", int(adata.n_obs)),
            "cells_after_qc": qc.get("cells_after", int(adata.n_obs)),
            "median_genes": float(np.median(obs["n_genes"])) if "n_genes" in obs else None,
            "median_counts": float(np.median(obs["total_counts"])) if "total_counts" in obs else None,
            "median_pct_mt": float(np.median(obs["pct_counts_mt"])) if "pct_counts_mt" in obs else None,
            "n_clusters": info.get("cluster", {}).get("n_clusters"),
        },
        "classify": {k: cls.get(k) for k in ("species", "model", "n_model_genes", "n_shared_genes",
                                              "refit_on_shared_genes", "input_kind", "n_unassigned")},
        "median_confidence": float(np.median(obs[f"{key}_confidence"])),
        "lineage_counts": {str(k): int(v) for k, v in lineage_counts.items()},
        "celltype_counts": {str(k): int(v) for k, v in obs[f"{key}_celltype"].value_counts().items() if v > 0},
        "clusters": [] if cluster_table is None else cluster_table.reset_index().to_dict(orient="records"),
        "zonation": _zonation_summary(adata, f"{key}_zonation"),
    }


def _zonation_summary(adata, col: str) -> dict | None:
    """Hepatocytes per zone and the median zonation (None without a zonation)."""
    from .zones import zone_counts

    if col not in adata.obs:
        return None
    z = adata.obs[col].to_numpy(dtype=float)
    ok = np.isfinite(z)
    return {**zone_counts(adata, col), "n_hepatocytes": int(ok.sum()),
            "median_zonation": float(np.median(z[ok])) if ok.any() else None}


def write_summary(summary: dict, path: str | Path) -> None:
    write_text(json.dumps(summary, indent=1, default=lambda o: o.item() if hasattr(o, "item") else str(o)), path)


def read_summaries(paths) -> list[dict]:
    out = []
    for p in paths:
        p = Path(p)
        files = sorted(p.glob("*.summary.json")) if p.is_dir() else [p]
        for f in files:
            try:
                out.append(json.loads(f.read_text()))
            except (OSError, json.JSONDecodeError) as exc:
                raise LiverannotError(f"{f}: not a liverannot sample summary ({exc}).") from None
    if not out:
        raise LiverannotError("no sample summaries (*.summary.json) found in the given paths.")
    names = [s["sample"] for s in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise LiverannotError(f"duplicate sample names among the summaries: {', '.join(dup)}.")
    return out


def cohort_tables(summaries: list[dict]) -> dict[str, pd.DataFrame]:
    lineages = [ln for ln in lineage_vocabulary()]
    comp = pd.DataFrame([{**{ln: s["lineage_counts"].get(ln, 0) for ln in lineages}, "sample": s["sample"]}
                         for s in summaries]).set_index("sample")
    comp = comp.loc[:, comp.sum(axis=0) > 0]
    celltypes = pd.DataFrame([{**s["celltype_counts"], "sample": s["sample"]} for s in summaries]) \
        .set_index("sample").fillna(0).astype(int)
    qc = pd.DataFrame([{"sample": s["sample"], **s["qc"], "median_confidence": s["median_confidence"],
                        "unassigned": s["classify"].get("n_unassigned"),
                        "shared_genes": s["classify"].get("n_shared_genes"),
                        "species": s["classify"].get("species"), "model": s["classify"].get("model")}
                       for s in summaries]).set_index("sample")
    clusters = pd.DataFrame([{"sample": s["sample"], **c} for s in summaries for c in s["clusters"]])
    zones = ("pericentral", "midlobular", "periportal")
    zonation = pd.DataFrame([{"sample": s["sample"], **{z: s["zonation"][z] for z in zones},
                              "median_zonation": s["zonation"]["median_zonation"]}
                             for s in summaries if s.get("zonation") and s["zonation"]["n_hepatocytes"]])
    zonation = zonation.set_index("sample") if len(zonation) else zonation
    return {"composition": comp, "celltypes": celltypes, "qc": qc, "clusters": clusters, "zonation": zonation}


def _mqc_text(header: dict, df: pd.DataFrame, index_label: str = "Sample") -> str:
    """MultiQC custom content: YAML header lines (JSON is YAML, safely quoted), then a TSV."""
    lines = [f"# {k}: {json.dumps(v)}" for k, v in header.items()]
    return "\n".join(lines) + "\n" + df.to_csv(sep="\t", index_label=index_label)


def write_qc_filters_mqc(filters: pd.DataFrame, sample: str, cells_before: int, path: str | Path) -> Path:
    """One sample's QC filters as MultiQC custom content: a stacked bar of the cells each filter
    removed and the cells kept. Files of several samples share one section (same ``id``)."""
    cells = filters[~filters["filter"].str.startswith("genes ")]   # the cell filters, not the gene one
    removed = {str(r["filter"]): int(r["cells_removed"]) for _, r in cells.iterrows()}
    row = {"kept": int(cells_before) - sum(removed.values()), **removed}
    df = pd.DataFrame([row], index=pd.Index([sample]))
    header = {"id": "liverannot_qc_filters", "section_name": "QC filters", "plot_type": "bargraph",
              "description": "Cells kept and cells removed by each QC filter, per sample (filters apply in "
                             "the order shown; a cell is counted under the first one it fails).",
              "pconfig": {"id": "liverannot_qc_filters_plot", "title": "liverannot: QC filters",
                          "ylab": "cells"}}
    path = Path(path)
    write_text(_mqc_text(header, df), path)
    return path


def bar_categories(columns, colors) -> dict[str, dict]:
    """A MultiQC bar graph's ``categories``: every column in its order, with the colour that
    ``colors`` (a :mod:`liverannot.pl` colour map) gives it in the per-sample plots, so that no
    two cell types share a colour (MultiQC's own palette repeats after ten) and a type looks the
    same in the report as in every sample's UMAP."""
    from matplotlib.colors import to_hex

    cmap = colors(list(columns))
    return {str(c): {"name": str(c), "color": to_hex(cmap[str(c)])} for c in columns}


def write_multiqc_files(tables: dict[str, pd.DataFrame], outdir: str | Path) -> list[Path]:
    """MultiQC custom-content files (``*_mqc.tsv`` with YAML headers)."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    files = []

    def emit(name, header: dict, df: pd.DataFrame, index_label="Sample"):
        path = outdir / name
        write_text(_mqc_text(header, df, index_label), path)
        files.append(path)

    qc = tables["qc"]
    gs = qc[["cells_after_qc", "median_genes", "median_pct_mt", "n_clusters", "median_confidence", "unassigned"]]
    emit("liverannot_general_stats_mqc.tsv",
         {"id": "liverannot_general_stats", "plot_type": "generalstats",
          "pconfig": [{"cells_after_qc": {"title": "Cells", "format": "{:,.0f}"}},
                      {"median_genes": {"title": "Median genes", "format": "{:,.0f}"}},
                      {"median_pct_mt": {"title": "% mito", "max": 100, "suffix": "%"}},
                      {"n_clusters": {"title": "Clusters", "format": "{:,.0f}"}},
                      {"median_confidence": {"title": "Confidence", "min": 0, "max": 1}},
                      {"unassigned": {"title": "Unassigned", "format": "{:,.0f}"}}]}, gs)
    emit("liverannot_qc_mqc.tsv",
         {"id": "liverannot_qc", "section_name": "Cell QC", "plot_type": "table",
          "description": "Cells before and after QC filters, median genes and counts per cell, % mitochondrial counts."},
         qc)
    from .pl import celltype_colors, lineage_colors

    emit("liverannot_composition_mqc.tsv",
         {"id": "liverannot_composition", "section_name": "Liver lineage composition", "plot_type": "bargraph",
          "description": "Cells per liver lineage in each sample (Unassigned: below the confidence threshold).",
          "categories": bar_categories(tables["composition"].columns, lineage_colors),
          "pconfig": {"id": "liverannot_composition_plot", "title": "liverannot: lineage composition",
                      "ylab": "cells"}}, tables["composition"])
    emit("liverannot_celltypes_mqc.tsv",
         {"id": "liverannot_celltypes", "section_name": "Liver cell-type composition", "plot_type": "bargraph",
          "description": "Cells per fine liver cell type in each sample.",
          "categories": bar_categories(tables["celltypes"].columns, celltype_colors),
          "pconfig": {"id": "liverannot_celltypes_plot", "title": "liverannot: cell types", "ylab": "cells"}},
         tables["celltypes"])
    zon = tables.get("zonation")
    if zon is not None and len(zon):
        emit("liverannot_zonation_mqc.tsv",
             {"id": "liverannot_zonation", "section_name": "Hepatocyte zonation", "plot_type": "bargraph",
              "description": "Hepatocytes of each sample by lobule zone, from Halpern et al. 2017's layer profiles: "
                             "pericentral (layers 1-3), mid-lobular (4-6), periportal (7-9).",
              "pconfig": {"id": "liverannot_zonation_plot", "title": "liverannot: hepatocyte zonation",
                          "ylab": "hepatocytes"}}, zon[["pericentral", "midlobular", "periportal"]])
    cl = tables["clusters"].copy()
    if len(cl):
        cl.index = cl["sample"].astype(str) + "_cluster" + cl["cluster"].astype(str)
        cl = cl.drop(columns=["sample"])
        emit("liverannot_clusters_mqc.tsv",
             {"id": "liverannot_clusters", "section_name": "Cluster annotation", "plot_type": "table",
              "description": "The liver cell type given to each cluster, the fraction of its cells that agree, "
                             "their mean confidence and the reference marker genes that support the call."},
             cl, index_label="Cluster")
    return files


def run_multiqc(indirs, outdir: str | Path, *, config: str | Path | None = None, title: str | None = None) -> Path:
    """Run MultiQC over ``indirs`` into ``outdir/multiqc_report.html``."""
    outdir = Path(outdir)
    cfg = Path(config) if config else data_path("multiqc_config.yml")
    cmd = [sys.executable, "-m", "multiqc", *[str(d) for d in indirs], "-o", str(outdir), "-f",
           "-n", "multiqc_report.html", "-c", str(cfg), "--no-ansi", "-q"]
    if title:
        cmd += ["--title", title]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    report = outdir / "multiqc_report.html"
    if res.returncode != 0 or not report.exists():
        raise LiverannotError(f"MultiQC failed (exit {res.returncode}): {res.stderr.strip()[-800:]}\n"
                              f"Is MultiQC installed? pip install 'multiqc>=1.25'")
    return report


def aggregate(summary_paths, outdir: str | Path, *, multiqc: bool = True, extra_dirs=(),
              config: str | Path | None = None, title: str | None = None) -> dict:
    """Cohort tables (CSV), MultiQC custom-content files and the MultiQC report."""
    outdir = Path(outdir)
    summaries = read_summaries(summary_paths)
    tables = cohort_tables(summaries)
    outdir.mkdir(parents=True, exist_ok=True)
    write_table(tables["composition"], outdir / "cohort_lineage_composition.csv")
    write_table(tables["celltypes"], outdir / "cohort_celltype_composition.csv")
    write_table(tables["qc"], outdir / "cohort_qc.csv")
    if len(tables["clusters"]):
        write_table(tables["clusters"], outdir / "cohort_cluster_annotation.csv", index=False)
    if len(tables["zonation"]):
        write_table(tables["zonation"], outdir / "cohort_zonation.csv")
    mqc_dir = outdir / "multiqc_data_in"
    files = write_multiqc_files(tables, mqc_dir)
    out = {"tables": tables, "mqc_files": files}
    if multiqc:
        out["report"] = run_multiqc([mqc_dir, *extra_dirs], outdir / "multiqc", config=config, title=title)
    return out
