"""The ``liverannot`` command: one subcommand per pipeline step (a thin layer over the library)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings
from pathlib import Path

from . import __version__
from .constants import CLASSIFY_CHUNK_SIZE, INPUT_KINDS
from .errors import LiverannotError

log = logging.getLogger("liverannot")

EPILOG_FMT = "Example:\n  {}\n"


def _quiet_dependencies() -> None:
    warnings.filterwarnings("ignore")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    for name in ("numba", "matplotlib", "fontTools", "h5py", "anndata", "scanpy", "umap", "PIL"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _setup_logging(args) -> None:
    level = logging.DEBUG if args.debug else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)-7s %(message)s", datefmt="%H:%M:%S",
                        stream=sys.stderr)
    _quiet_dependencies()


class Progress:
    """Progress of a long step on stderr, as log lines (works in Nextflow logs and terminals)."""

    def __init__(self, what: str):
        self.what, self.t0, self.last = what, time.perf_counter(), -1

    def __call__(self, done: int, total: int) -> None:
        pct = int(100 * done / max(total, 1))
        if pct // 10 != self.last // 10 or done == total:
            self.last = pct
            el = time.perf_counter() - self.t0
            log.info("%s: %d/%d cells (%d%%, %.1fs, %.0f cells/s)", self.what, done, total, pct, el, done / max(el, 1e-9))


# ------------------------------------------------------------------------------------------
# helpers shared by the subcommands
# ------------------------------------------------------------------------------------------

def _read(args):
    from .io import read_input

    return read_input(args.input)


def _check_output(args, suffix=".h5ad"):
    from .io import same_file

    if same_file(args.input, args.output):
        raise LiverannotError(f"--output {args.output} is the input file; inputs are never overwritten. "
                              f"Choose another output path.")
    if not str(args.output).endswith(suffix):
        raise LiverannotError(f"--output {args.output} must end with {' or '.join(suffix) if isinstance(suffix, tuple) else suffix}.")


def _write(adata, path):
    from .io import write_h5ad

    write_h5ad(adata, path)
    log.info("wrote %s (%d cells x %d genes)", path, adata.n_obs, adata.n_vars)


def _qc_args(p):
    """QC options shared by `qc` and `run`."""
    p.add_argument("--min-genes", type=int, default=200, help="drop cells with fewer genes detected (default 200)")
    p.add_argument("--min-cells", type=int, default=3, help="drop genes detected in fewer cells (default 3)")
    p.add_argument("--max-pct-mt", type=float, default=20.0, help="drop cells above this %% of mitochondrial "
                   "counts (MT-/mt- genes; default 20)")
    p.add_argument("--doublets", action="store_true", help="score doublets with scrublet and drop predicted doublets")
    p.add_argument("--symbol-col", help="var column with gene symbols when the index holds Ensembl IDs (auto-detected)")
    p.add_argument("--layer", help="layer holding the raw counts (default: 'counts' if present, else X)")


def _chain_args(p):
    """The options of a sample's whole chain, shared by `run` and `sample` (the pipeline's parameters)."""
    p.add_argument("--model", choices=["nn", "rf"], default="nn", help="model kind (default nn)")
    p.add_argument("--mode", choices=["mode", "proba"], default="mode", help="cluster annotation mode (default mode)")
    _qc_args(p)
    p.add_argument("--target-sum", type=float, default=1e4, help="counts per cell after normalization (default 10000)")
    p.add_argument("--resolution", type=float, default=1.0, help="Leiden resolution (default 1.0)")
    p.add_argument("--n-top-genes", type=int, default=2000, help="highly variable genes (default 2000)")
    p.add_argument("--n-pcs", type=int, default=30, help="principal components (default 30)")
    p.add_argument("--min-confidence", type=float, help="Unassigned threshold (default: the model's)")
    p.add_argument("--no-zonation", action="store_true", help="skip the hepatocyte zonation")


def _io_args(p, out_help="output .h5ad"):
    p.add_argument("-i", "--input", required=True, help="input: .h5ad, 10x folder, 10x .h5, .loom or .csv/.tsv")
    p.add_argument("-o", "--output", required=True, help=out_help)


# ------------------------------------------------------------------------------------------
# subcommands
# ------------------------------------------------------------------------------------------

def cmd_qc(args):
    from .qc import run_qc, write_qc_tables

    _check_output(args)
    adata = _read(args)
    filtered, table = run_qc(adata, layer=args.layer, symbol_col=args.symbol_col, min_genes=args.min_genes,
                             min_cells=args.min_cells, max_pct_mt=args.max_pct_mt, max_genes=args.max_genes,
                             doublets=args.doublets, random_state=args.seed, name=str(args.input))
    qc_table = args.qc_table or str(Path(args.output).with_suffix("")).removesuffix(".qc") + ".qc.csv"  # x.qc.h5ad -> x.qc.csv
    write_qc_tables(adata, filtered, table, args.sample or Path(args.output).name.split(".")[0], qc_table)
    _write(filtered, args.output)
    log.info("QC: %d -> %d cells, %d -> %d genes; per-cell table %s", adata.n_obs, filtered.n_obs,
             adata.n_vars, filtered.n_vars, qc_table)


def cmd_normalize(args):
    from .normalize import normalize

    _check_output(args)
    adata = _read(args)
    from .io import check_values

    check_values(adata.X, str(args.input))
    normalize(adata, target_sum=args.target_sum, kind=args.input_kind)
    _write(adata, args.output)


def cmd_cluster(args):
    from .cluster import cluster

    _check_output(args)
    adata = _read(args)
    if adata.uns.get("liverannot", {}).get("input_kind") is None and "log1p" not in adata.uns:
        log.warning("input does not look normalized (no `liverannot normalize` record): clustering X as it is")
    cluster(adata, n_top_genes=args.n_top_genes, n_pcs=args.n_pcs, n_neighbors=args.n_neighbors,
            resolution=args.resolution, random_state=args.seed, umap=not args.no_umap)
    _write(adata, args.output)


def cmd_classify(args):
    from .api import _resolve_model, classify
    from .io import read_input

    table_only = str(args.output).endswith((".csv", ".tsv"))
    _check_output(args, suffix=(".csv", ".tsv") if table_only else ".h5ad")
    # a table output needs no copy of the matrix: stream a backed .h5ad chunk by chunk
    adata = read_input(args.input, backed=table_only)
    model = _resolve_model(adata, args.species, args.model_dir or args.model, args.symbol_col)
    log.info("model: %s %s (%d genes, %d classes)", model.species, model.kind, len(model.genes), len(model.classes))
    classify(adata, model=model, layer=args.layer, symbol_col=args.symbol_col, input_kind=args.input_kind,
             query_species=args.query_species, chunk_size=args.chunk_size, refit_below=args.refit_below,
             min_confidence=args.min_confidence, min_similarity=args.min_similarity, zonation=not args.no_zonation,
             progress=Progress("classify"))
    from .io import write_table

    cols = [c for c in adata.obs.columns if c.startswith("liver_")]
    if table_only:
        write_table(adata.obs[cols], args.output, index_label="cell")
        log.info("wrote %s (%d cells)", args.output, adata.n_obs)
        return
    if args.table:
        write_table(adata.obs[cols], args.table, index_label="cell")
    _write(adata, args.output)


def cmd_annotate(args):
    from .api import annotate
    from .io import write_table

    _check_output(args)
    adata = _read(args)
    table = annotate(adata, groupby=args.cluster_key, mode=args.mode)
    table_path = args.table or str(Path(args.output).with_suffix("")) + ".cluster_annotation.csv"
    write_table(table, table_path)
    _write(adata, args.output)
    for cl, row in table.iterrows():
        log.info("cluster %s (%d cells): %s [%s], %.0f%% agree, confidence %.2f", cl, row.n_cells, row.label,
                 row.lineage, 100 * row.fraction_agreeing, row.mean_confidence)


def cmd_report(args):
    from .report import aggregate, sample_plots, sample_summary, write_summary

    outdir = Path(args.outdir)
    summaries = []
    for path in args.input:
        from .io import read_annotations

        adata = read_annotations(path)   # obs, obsm and uns: the plots and summary need no matrix
        if "liver_celltype" not in adata.obs:
            raise LiverannotError(f"{path}: no liverannot calls (obs 'liver_celltype'); run classify and annotate first.")
        sample = Path(path).name.split(".")[0] if len(args.input) > 1 or not args.sample else args.sample
        import pandas as pd

        table = None
        if "liver_cluster_annotation" in adata.uns:
            table = pd.DataFrame(adata.uns["liver_cluster_annotation"]["table"]).set_index("cluster")
        sample_plots(adata, outdir / "plots", sample)
        s = sample_summary(adata, sample, table)
        write_summary(s, outdir / f"{sample}.summary.json")
        summaries.append(outdir / f"{sample}.summary.json")
        log.info("[%s] plots in %s", sample, outdir / "plots")
    if len(summaries) > 1 or args.multiqc:
        res = aggregate(summaries, outdir, multiqc=True, config=args.multiqc_config, title=args.title)
        log.info("MultiQC report: %s", res["report"])


def cmd_aggregate(args):
    from .report import aggregate

    res = aggregate(args.summaries, args.outdir, multiqc=not args.no_multiqc,
                    extra_dirs=args.extra or (), config=args.multiqc_config, title=args.title)
    if "report" in res:
        log.info("MultiQC report: %s", res["report"])
        print(res["report"])


def cmd_run(args):
    from .pipeline import run

    res = run(args.samplesheet, args.outdir, _run_settings(args), multiqc=not args.no_multiqc)
    if "report" in res:
        print(f"MultiQC report: {res['report']}")


def _run_settings(args):
    from .pipeline import RunSettings

    return RunSettings(species=args.species, model=args.model, mode=args.mode, min_genes=args.min_genes,
                       min_cells=args.min_cells, max_pct_mt=args.max_pct_mt, doublets=args.doublets,
                       resolution=args.resolution, seed=args.seed, symbol_col=args.symbol_col,
                       counts_layer=args.layer, min_confidence=args.min_confidence, zonation=not args.no_zonation,
                       target_sum=args.target_sum, n_top_genes=args.n_top_genes, n_pcs=args.n_pcs)


def cmd_sample(args):
    from .io import same_file
    from .pipeline import process_sample, read_checked

    if same_file(args.input, args.outdir):
        raise LiverannotError(f"--outdir {args.outdir} is the input; choose another folder.")
    process_sample(read_checked(args.input, f"sample {args.sample}"), args.sample, _run_settings(args),
                   Path(args.outdir))


def cmd_demo(args):
    from .demo import make_demo

    sheet = make_demo(args.outdir, n_cells=args.n_cells, seed=args.seed)
    print(sheet)


def cmd_precompile(args):
    from .precompile import precompile

    res = precompile(seed=args.seed)
    print(f"compiled in {res['seconds']} s; numba cache: {res['numba_cache']}")


def cmd_models(args):
    from .api import models

    df = models()

    def num(v):
        return "n/a" if v is None or v != v else f"{v:.3f}"

    print("species\tmodel\tclasses\tgenes\tliver lineage acc.\twith 30% genes\tother tissues\tnon-liver Unassigned\tpath")
    for r in df.to_dict(orient="records"):
        if r["status"] != "ok":
            print(f"{r['species']}\t{r['model']}\tMISSING\t\t\t\t\t\t{r['path']}")
            continue
        print(f"{r['species']}\t{r['model']}\t{r['classes']}\t{r['genes']}\t{num(r['liver_lineage_accuracy'])}\t"
              f"{num(r['liver_lineage_accuracy_30pct_genes'])}\t{num(r['other_tissues_lineage_accuracy'])}\t"
              f"{num(r['nonliver_unassigned_rate'])}\t{r['path']}")


def cmd_train(args):
    from .train_cli import train_command

    train_command(args)


def _train_args(p) -> None:
    """`train`'s options (the training itself is train_cli.train_command)."""
    src = p.add_argument_group("training data (one of)")
    src.add_argument("--profiles", help="genes x classes table of mean counts per cell (TSV/CSV, .gz ok)")
    src.add_argument("--reference", help="annotated AnnData (.h5ad) of raw counts to train from")
    src.add_argument("--geo-dir", help="folder with MacParland 2018 GEO files GSE115469_Data.csv.gz and "
                     "Cell_clusterID_cycle.txt (download them first: nothing is fetched)")
    src.add_argument("--all", action="store_true", help="regenerate every shipped model (human and mouse, nn "
                     "and rf) from the shared reference data, with evaluation and model cards")
    p.add_argument("--label-key", help="obs column of --reference holding the cell-type labels")
    p.add_argument("--lineage-map", help="TSV class<TAB>lineage for classes not in liverannot's map")
    p.add_argument("--species", choices=["human", "mouse"], help="species of the reference")
    p.add_argument("--kind", choices=["nn", "rf", "both"], default="both", help="model kind(s) to train (default both)")
    p.add_argument("--outdir", help="output folder (one bundle per kind: OUTDIR/<species>_<kind>)")
    p.add_argument("--shared-data", help="the shared reference data folder for --all (default: ../shared/data)")
    p.add_argument("--no-search", action="store_true", help="skip the Random Forest hyperparameter search")
    p.add_argument("--n-per-class", type=int, default=None, help="simulated cells per class (default 300)")


# ------------------------------------------------------------------------------------------
# parser
# ------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("general")
    g.add_argument("--debug", action="store_true", help="verbose logging and full tracebacks")
    g.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0): same input + seed = same output")

    ap = argparse.ArgumentParser(
        prog="liverannot", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Liver single-cell RNA-seq: QC, normalization, clustering, and cell-type classification "
                    "and cluster annotation with pretrained human and mouse liver models.",
        epilog="Quick start:\n  liverannot demo --outdir demo && liverannot run --input demo/samplesheet.csv "
               "--outdir results\nEach subcommand has --help.")
    ap.add_argument("--version", action="version", version=f"liverannot {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    fmt = argparse.RawDescriptionHelpFormatter

    def add(name, func, help_, example):
        p = sub.add_parser(name, parents=[common], help=help_, description=help_, formatter_class=fmt,
                           epilog=EPILOG_FMT.format(example))
        p.set_defaults(func=func)
        return p

    p = add("qc", cmd_qc, "Per-cell QC metrics (genes, counts, percent mitochondrial and ribosomal), optional "
            "doublet scores (scrublet), and filters; writes the filtered h5ad and a per-cell QC table.",
            "liverannot qc -i sample_10x/ -o sample.qc.h5ad --min-genes 200 --max-pct-mt 20")
    _io_args(p)
    _qc_args(p)
    p.add_argument("--max-genes", type=int, default=None, help="drop cells with more genes (possible doublets; off)")
    p.add_argument("--qc-table", help="per-cell QC table (default: OUTPUT's name with .qc.csv); the filters "
                   "table (.filters.csv) and its MultiQC form (.filters_mqc.tsv) are written beside it")
    p.add_argument("--sample", help="sample name in the MultiQC table (default: OUTPUT's name up to the first dot)")

    p = add("normalize", cmd_normalize, "Library-size normalization and log1p; raw counts are kept in "
            "layers['counts']. Already-normalized input (CPM, log1p) is detected and handled.",
            "liverannot normalize -i sample.qc.h5ad -o sample.norm.h5ad")
    _io_args(p)
    p.add_argument("--target-sum", type=float, default=1e4, help="counts per cell after normalization (default 10000)")
    p.add_argument("--input-kind", choices=INPUT_KINDS, help="override detection of what X holds")

    p = add("cluster", cmd_cluster, "Highly variable genes, PCA, neighbour graph, Leiden clustering "
            "(obs 'leiden') and UMAP on normalized data.",
            "liverannot cluster -i sample.norm.h5ad -o sample.clustered.h5ad --resolution 1.0")
    _io_args(p)
    p.add_argument("--resolution", type=float, default=1.0, help="Leiden resolution: higher = more clusters (default 1.0)")
    p.add_argument("--n-top-genes", type=int, default=2000, help="highly variable genes (default 2000)")
    p.add_argument("--n-pcs", type=int, default=30, help="principal components (default 30)")
    p.add_argument("--n-neighbors", type=int, default=15, help="neighbours in the graph (default 15)")
    p.add_argument("--no-umap", action="store_true", help="skip UMAP (faster)")

    p = add("classify", cmd_classify, "Predict a liver cell type for every cell with a shipped model: obs "
            "liver_celltype, liver_lineage, liver_confidence, and the probability matrix in obsm['liver_proba'] "
            "(class names in uns['liver_classify']['classes']). Works on raw counts, CPM or log1p data, in chunks.",
            "liverannot classify -i sample.clustered.h5ad -o sample.classified.h5ad --species human --model nn")
    p.add_argument("-i", "--input", required=True, help="input: .h5ad, 10x folder, 10x .h5, .loom or .csv/.tsv")
    p.add_argument("-o", "--output", required=True, help="output .h5ad (input + calls), or .csv/.tsv for the per-cell "
                   "calls only (then a large .h5ad is streamed from disk, never loaded whole)")
    p.add_argument("--species", choices=["human", "mouse"], help="model species (default: detected from gene names)")
    p.add_argument("--model", choices=["nn", "rf"], default="nn", help="neural network (nn, default) or random forest (rf)")
    p.add_argument("--query-species", choices=["human", "mouse"], help="species of the data when it differs from "
                   "the model's: genes are translated through one-to-one orthologs (e.g. a human model on mouse data)")
    p.add_argument("--model-dir", help="a model bundle folder (from `liverannot train`) instead of a shipped model")
    p.add_argument("--layer", help="layer holding counts (default: 'counts' if present, else X)")
    p.add_argument("--symbol-col", help="var column with gene symbols when the index holds Ensembl IDs (auto-detected)")
    p.add_argument("--input-kind", choices=INPUT_KINDS, help="override detection of the values")
    p.add_argument("--min-confidence", type=float, help="below this lineage confidence a cell is Unassigned "
                   "(default: the model's calibrated threshold)")
    p.add_argument("--min-similarity", type=float, help="below this correlation with the called reference profile "
                   "a cell is Unassigned (default: the model's)")
    p.add_argument("--refit-below", type=float, default=0.6, help="refit the model on the shared genes when the "
                   "query has fewer than this fraction of its genes (default 0.6)")
    p.add_argument("--chunk-size", type=int, default=CLASSIFY_CHUNK_SIZE,
                   help=f"cells per chunk (memory vs speed; default {CLASSIFY_CHUNK_SIZE})")
    p.add_argument("--table", help="also write the per-cell calls as CSV")
    p.add_argument("--no-zonation", action="store_true", help="do not place hepatocytes on the central-portal "
                   "axis (obs liver_zonation: 0 pericentral ... 1 periportal, from Halpern 2017's layer profiles)")

    p = add("annotate", cmd_annotate, "Label every cluster with a liver cell type: majority vote of the cell "
            "calls (--mode mode) or summed probabilities (--mode proba). Adds obs liver_cluster_annotation and "
            "writes a per-cluster table (cells, label, lineage, fraction agreeing, mean confidence, supporting genes).",
            "liverannot annotate -i sample.classified.h5ad -o sample.annotated.h5ad --mode mode")
    _io_args(p)
    p.add_argument("--mode", choices=["mode", "proba"], default="mode", help="majority vote (mode, default) or summed probabilities (proba)")
    p.add_argument("--cluster-key", default="leiden", help="obs column with clusters (default leiden)")
    p.add_argument("--table", help="cluster table path (default: OUTPUT with .cluster_annotation.csv)")

    p = add("report", cmd_report, "Per-sample plots (UMAP by cluster and annotation, composition, confidence) "
            "and summaries; with several inputs (or --multiqc), the cohort tables and one MultiQC report.",
            "liverannot report -i s1.annotated.h5ad s2.annotated.h5ad --outdir report")
    p.add_argument("-i", "--input", nargs="+", required=True, help="annotated .h5ad file(s)")
    p.add_argument("--outdir", required=True, help="output folder")
    p.add_argument("--sample", help="sample name (one input; default: file name up to the first dot)")
    p.add_argument("--multiqc", action="store_true", help="run MultiQC even for one sample")
    p.add_argument("--multiqc-config", help="MultiQC config (default: liverannot's)")
    p.add_argument("--title", help="report title")

    p = add("aggregate", cmd_aggregate, "Cohort step: combine per-sample summaries (*.summary.json) into cohort "
            "composition/QC/cluster tables and MultiQC custom content, and run MultiQC.",
            "liverannot aggregate --summaries results/*/ --outdir results/cohort")
    p.add_argument("--summaries", nargs="+", required=True, help="summary files or folders holding them")
    p.add_argument("--outdir", required=True, help="output folder")
    p.add_argument("--extra", nargs="*", help="more folders for MultiQC to scan (e.g. versions files)")
    p.add_argument("--no-multiqc", action="store_true", help="write the tables only")
    p.add_argument("--multiqc-config", help="MultiQC config (default: liverannot's)")
    p.add_argument("--title", help="report title")

    p = add("run", cmd_run, "The whole chain (qc, normalize, cluster, classify, annotate, report) for every "
            "row of a samplesheet CSV with header sample,input[,species]; then cohort tables and one MultiQC report.",
            "liverannot run --input samplesheet.csv --outdir results --model nn --mode mode")
    p.add_argument("-i", "--input", "--samplesheet", dest="samplesheet", required=True, metavar="SAMPLESHEET",
                   help="samplesheet CSV: sample,input[,species] (paths relative to the sheet); the same "
                        "file as the Nextflow pipeline's --input (--samplesheet is an alias)")
    p.add_argument("--outdir", required=True, help="output folder (one subfolder per sample, plus cohort/)")
    p.add_argument("--species", choices=["human", "mouse"], help="default species for rows without one (default: detect)")
    _chain_args(p)
    p.add_argument("--no-multiqc", action="store_true", help="skip the MultiQC report")

    p = add("sample", cmd_sample, "The whole chain (qc, normalize, cluster, classify, annotate, report) for one "
            "sample, in one process: writes into OUTDIR what the per-step subcommands write (the annotated "
            "h5ad, per-cell and cluster tables, summary, plots/ and qc/). The pipeline's one task per sample.",
            "liverannot sample -i sample.h5ad --sample donor1 --outdir results/donor1 --species human")
    p.add_argument("-i", "--input", required=True, help="input: .h5ad, 10x folder, 10x .h5, .loom or .csv/.tsv")
    p.add_argument("--sample", required=True, help="sample name: the prefix of every output file")
    p.add_argument("--outdir", required=True, help="output folder (the sample's files, plots/ and qc/)")
    p.add_argument("--species", choices=["human", "mouse"], help="model species (default: detected from gene names)")
    _chain_args(p)

    p = add("demo", cmd_demo, "Write a small demo cohort (two simulated human liver samples: a 10x folder and "
            "an h5ad) and its samplesheet; prints the samplesheet path.",
            "liverannot demo --outdir demo")
    p.add_argument("--outdir", required=True)
    p.add_argument("--n-cells", type=int, default=1500, help="cells per sample (default 1500)")

    p = add("models", cmd_models, "List the shipped models and their development-set accuracy.", "liverannot models")

    add("precompile", cmd_precompile, "Compile the numba kernels of clustering, UMAP and classification into "
        "numba's disk cache (NUMBA_CACHE_DIR, else beside the libraries), by running the chain on two small "
        "simulated samples: the first real run is then as fast as later ones. make setup and the image build "
        "run it; about a minute.", "liverannot precompile")

    p = add("train", cmd_train, "Train a liver model: from per-class mean profiles (simulated cells), from an "
            "annotated AnnData (--reference, --label-key), or from the MacParland 2018 GEO files (--geo-dir). "
            "--all regenerates every shipped model.",
            "liverannot train --profiles profiles.tsv.gz --species human --kind nn --outdir my_model")
    _train_args(p)
    return ap


def main(argv=None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    if not getattr(args, "command", None):
        ap.print_help()
        return 2
    _setup_logging(args)
    import platform

    # provenance in every log (a Nextflow task's .command.err): which install ran, on which Python
    log.info("liverannot %s %s (%s, Python %s)", __version__, args.command, Path(__file__).resolve().parent,
             platform.python_version())
    try:
        args.func(args)
    except LiverannotError as exc:
        log.debug("error", exc_info=True)
        msg = str(exc)
        source = getattr(args, "input", None)
        if isinstance(source, str) and source not in msg:   # every message names the file it is about
            msg = f"{source}: {msg}"
        print(f"liverannot {args.command}: error: {msg}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("liverannot: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"liverannot {args.command}: error: out of memory; use a smaller --chunk-size or a machine with "
              f"more memory.", file=sys.stderr)
        return 137
    except Exception as exc:  # unexpected: one line unless --debug
        if args.debug:
            raise
        print(f"liverannot {args.command}: unexpected error: {type(exc).__name__}: {exc}\n"
              f"Rerun with --debug for the full traceback, and report it if the input looks right.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
