"""Every subcommand end to end through the real CLI, and its errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from browser import needs_chromium, render, rendered_plot_ids, section_titles

from liverannot.cli import main
from liverannot.demo import write_10x
from liverannot.io import write_h5ad


@pytest.fixture(scope="module")
def chain(human_sample, tmp_path_factory):
    """qc -> normalize -> cluster -> classify -> annotate -> report through the CLI."""
    d = tmp_path_factory.mktemp("chain")
    write_10x(human_sample, d / "tenx")
    steps = [
        ["qc", "-i", str(d / "tenx"), "-o", str(d / "qc.h5ad"), "--min-genes", "200"],
        ["normalize", "-i", str(d / "qc.h5ad"), "-o", str(d / "norm.h5ad")],
        ["cluster", "-i", str(d / "norm.h5ad"), "-o", str(d / "clu.h5ad"), "--resolution", "1.0"],
        ["classify", "-i", str(d / "clu.h5ad"), "-o", str(d / "cls.h5ad"), "--species", "human", "--model", "rf",
         "--table", str(d / "cells.csv")],
        ["annotate", "-i", str(d / "cls.h5ad"), "-o", str(d / "ann.h5ad"), "--mode", "proba"],
        ["report", "-i", str(d / "ann.h5ad"), "--outdir", str(d / "report"), "--sample", "s1"],
    ]
    for argv in steps:
        assert main(argv) == 0, argv
    return d


def test_chain_outputs(chain, human_sample):
    qc = pd.read_csv(chain / "qc.qc.csv", index_col=0)
    assert len(qc) == human_sample.n_obs and "passed_qc" in qc
    a = ad.read_h5ad(chain / "ann.h5ad")
    for col in ("liver_celltype", "liver_lineage", "liver_confidence", "leiden", "liver_cluster_annotation"):
        assert col in a.obs
    assert "counts" in a.layers and "X_umap" in a.obsm
    assert a.uns["liver_classify"]["model"] == "rf"
    assert a.uns["liver_cluster_annotation"]["mode"] == "proba"
    truth = a.obs_names.map(human_sample.obs["true_lineage"].to_dict())
    acc = (a.obs["liver_lineage"].astype(str) == truth).mean()
    assert acc > 0.95
    table = pd.read_csv(chain / "ann.cluster_annotation.csv", index_col=0)
    assert table["n_cells"].sum() == a.n_obs
    assert (chain / "report" / "plots" / "s1_umap.png").exists()
    assert (chain / "report" / "s1.summary.json").exists()
    cells = pd.read_csv(chain / "cells.csv", index_col=0)
    assert list(cells.index) == list(a.obs_names)


def test_sample_writes_what_the_per_step_chain_writes_with_the_same_calls(chain, human_sample, tmp_path):
    """`liverannot sample` (the pipeline's one task per sample) on the same 10x folder and options as
    the chain above: the same QC tables, cells, clusters and calls, and the files the per-step
    subcommands publish, in one process."""
    out = tmp_path / "s1"
    assert main(["sample", "-i", str(chain / "tenx"), "--sample", "s1", "--outdir", str(out), "--species", "human",
                 "--model", "rf", "--mode", "proba", "--min-genes", "200", "--resolution", "1.0"]) == 0
    for rel in ("s1.annotated.h5ad", "s1.cells.csv", "s1.cluster_annotation.csv", "s1.summary.json",
                "plots/s1_umap.png", "plots/s1_composition.png", "plots/s1_confidence.png",
                "qc/s1.qc.csv", "qc/s1.qc.filters.csv", "qc/s1.qc.filters_mqc.tsv"):
        assert (out / rel).exists(), rel
    # QC: every input cell with its metrics and whether it passed, the filters as `liverannot qc` writes them
    assert (out / "qc" / "s1.qc.csv").read_text() == (chain / "qc.qc.csv").read_text()
    assert (out / "qc" / "s1.qc.filters.csv").read_text() == (chain / "qc.qc.filters.csv").read_text()
    assert "liverannot_qc_filters" in (out / "qc" / "s1.qc.filters_mqc.tsv").read_text()
    one, steps = ad.read_h5ad(out / "s1.annotated.h5ad"), ad.read_h5ad(chain / "ann.h5ad")
    assert list(one.obs_names) == list(steps.obs_names) and list(one.var_names) == list(steps.var_names)
    for col in ("leiden", "liver_celltype", "liver_lineage", "liver_cluster_annotation", "liver_zonation_layer"):
        assert one.obs[col].astype(str).equals(steps.obs[col].astype(str)), col
    assert np.allclose(one.obs["liver_confidence"], steps.obs["liver_confidence"])
    assert np.allclose(one.X.toarray(), steps.X.toarray()) and "counts" in one.layers
    assert one.uns["liver_classify"]["model"] == "rf" and one.uns["liver_cluster_annotation"]["mode"] == "proba"
    cells = pd.read_csv(out / "s1.cells.csv", index_col=0)
    assert list(cells.index) == list(one.obs_names) and cells["liver_celltype"].notna().all()
    # the summary times each step, and each part of clustering (what dominates, for the benchmarks)
    summary = json.loads((out / "s1.summary.json").read_text())
    assert set(summary["cluster_seconds"]) == {"hvg", "pca", "neighbors", "leiden", "umap"}
    assert 0 < sum(summary["cluster_seconds"].values()) <= summary["seconds"]["cluster"] + 0.05


def test_sample_refuses_its_input_as_outdir_and_a_bad_input_with_one_message(tmp_path):
    r = run_cli("sample", "-i", str(tmp_path), "--sample", "x", "--outdir", str(tmp_path))
    assert r.returncode != 0 and "is the input" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "broken.h5ad").write_bytes(b"not hdf5" * 50)
    r = run_cli("sample", "-i", str(tmp_path / "broken.h5ad"), "--sample", "b", "--outdir", str(tmp_path / "b"))
    assert r.returncode != 0 and "not an HDF5 file" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").rglob("*.h5ad"))


def run_cli(*argv, **kw):
    return subprocess.run([sys.executable, "-m", "liverannot", *argv], capture_output=True, text=True, **kw)


def test_error_is_one_clear_message_without_traceback(tmp_path):
    r = run_cli("classify", "-i", str(tmp_path / "missing.h5ad"), "-o", str(tmp_path / "o.h5ad"))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "missing.h5ad: no such file" in r.stderr
    assert not (tmp_path / "o.h5ad").exists()


def test_debug_shows_traceback(tmp_path):
    r = run_cli("classify", "-i", str(tmp_path / "missing.h5ad"), "-o", str(tmp_path / "o.h5ad"), "--debug")
    assert r.returncode == 2 and "Traceback" in r.stderr


def test_output_equal_to_input_is_refused(chain):
    before = (chain / "ann.h5ad").read_bytes()
    rc = main(["annotate", "-i", str(chain / "ann.h5ad"), "-o", str(chain / "ann.h5ad")])
    assert rc == 2
    assert (chain / "ann.h5ad").read_bytes() == before


def test_failed_step_leaves_no_output_and_input_untouched(adata, tmp_path):
    a = adata[:100].copy()
    a.X = a.X.toarray()
    a.X[0, 0] = np.nan
    write_h5ad(a, tmp_path / "bad.h5ad")
    before = (tmp_path / "bad.h5ad").read_bytes()
    rc = main(["classify", "-i", str(tmp_path / "bad.h5ad"), "-o", str(tmp_path / "out.h5ad"), "--species", "human"])
    assert rc == 2
    assert not (tmp_path / "out.h5ad").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.h5ad"]  # no temporary files left either
    assert (tmp_path / "bad.h5ad").read_bytes() == before


def test_wrong_species_message(mouse_sample, tmp_path, capsys):
    write_h5ad(mouse_sample[:200].copy(), tmp_path / "m.h5ad")
    rc = main(["classify", "-i", str(tmp_path / "m.h5ad"), "-o", str(tmp_path / "o.h5ad"), "--species", "human"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "--species mouse" in err
    # without --species the species is detected and classification works
    assert main(["classify", "-i", str(tmp_path / "m.h5ad"), "-o", str(tmp_path / "o.h5ad")]) == 0
    assert ad.read_h5ad(tmp_path / "o.h5ad").uns["liver_classify"]["species"] == "mouse"


def test_models_lists_all_four(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for sp in ("human", "mouse"):
        for kind in ("nn", "rf"):
            assert f"{sp}\t{kind}\t" in out
    assert "MISSING" not in out


def test_run_two_samples_10x_and_h5ad(tmp_path):
    """The issue's done-when: a 10x folder and an h5ad of raw counts through `liverannot run`."""
    from liverannot.demo import simulate_sample

    truth = {}
    for seed in (21, 22):
        s = simulate_sample("human", 700, seed=seed)
        truth.update(s.obs["true_lineage"].to_dict())
        if seed == 21:
            write_10x(s, tmp_path / "d1_10x")  # 10x folders carry no labels: truth is kept aside
        else:
            write_h5ad(s, tmp_path / "d2.h5ad")
    (tmp_path / "sheet.csv").write_text("sample,input,species\nd1,d1_10x,human\nd2,d2.h5ad,\n")
    assert main(["run", "--input", str(tmp_path / "sheet.csv"), "--outdir", str(tmp_path / "res")]) == 0
    res = tmp_path / "res"
    for s in ("d1", "d2"):
        a = ad.read_h5ad(res / s / f"{s}.annotated.h5ad")
        for col in ("liver_celltype", "liver_lineage", "liver_confidence"):
            assert col in a.obs
        expected = a.obs_names.map(truth)
        assert (a.obs["liver_lineage"].astype(str) == expected).mean() > 0.95
        assert (res / s / f"{s}.cluster_annotation.csv").exists()
        assert (res / s / "plots" / f"{s}_umap.png").exists()
        # the QC tables, as the pipeline publishes them
        qc = pd.read_csv(res / s / "qc" / f"{s}.qc.csv", index_col=0)
        assert len(qc) == 700 and qc["passed_qc"].sum() == a.n_obs
    comp = pd.read_csv(res / "cohort" / "cohort_lineage_composition.csv", index_col=0)
    assert list(comp.index) == ["d1", "d2"]
    report = res / "cohort" / "multiqc" / "multiqc_report.html"
    assert report.stat().st_size > 100000 and "liverannot_qc_filters" in report.read_text()


def test_run_reports_bad_samplesheet(tmp_path, capsys):
    (tmp_path / "sheet.csv").write_text("sample,input\nA,nope.h5ad\nA,nope2.h5ad\n")
    assert main(["run", "--samplesheet", str(tmp_path / "sheet.csv"), "--outdir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "line 2" in err and "line 3" in err and "duplicate" in err
    assert not (tmp_path / "r").exists()


def test_run_is_reproducible(tmp_path):
    from liverannot.demo import simulate_sample

    write_h5ad(simulate_sample("human", 500, seed=31), tmp_path / "a.h5ad")
    (tmp_path / "sheet.csv").write_text("sample,input\na,a.h5ad\n")
    for out in ("r1", "r2"):
        assert main(["run", "--samplesheet", str(tmp_path / "sheet.csv"), "--outdir", str(tmp_path / out),
                     "--no-multiqc"]) == 0
    t1 = (tmp_path / "r1" / "a" / "a.cluster_annotation.csv").read_text()
    t2 = (tmp_path / "r2" / "a" / "a.cluster_annotation.csv").read_text()
    assert t1 == t2
    c1 = pd.read_csv(tmp_path / "r1" / "a" / "a.cells.csv", index_col=0)
    c2 = pd.read_csv(tmp_path / "r2" / "a" / "a.cells.csv", index_col=0)
    pd.testing.assert_frame_equal(c1, c2)


def test_demo_command(tmp_path, capsys):
    assert main(["demo", "--outdir", str(tmp_path / "demo"), "--n-cells", "300"]) == 0
    sheet = Path(capsys.readouterr().out.strip())
    assert sheet.exists()
    from liverannot.samplesheet import read_samplesheet

    rows = read_samplesheet(sheet)
    assert [r.sample for r in rows] == ["donor1", "donor2"]


def test_run_takes_the_samplesheet_as_input_like_nextflow(tmp_path, capsys):
    """`--input`, as the Nextflow pipeline and every nf-core pipeline call it; `--samplesheet` and
    `-i` are aliases. --help says so, and a call without it names --input."""
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    help_text = capsys.readouterr().out
    assert "-i SAMPLESHEET, --input SAMPLESHEET, --samplesheet SAMPLESHEET" in help_text
    assert "liverannot run --input samplesheet.csv" in help_text
    with pytest.raises(SystemExit):
        main(["run", "--outdir", str(tmp_path / "r")])
    assert "-i/--input/--samplesheet" in capsys.readouterr().err
    (tmp_path / "sheet.csv").write_text("sample,input\nA,missing.h5ad\n")
    for flag in ("--input", "-i", "--samplesheet"):
        assert main(["run", flag, str(tmp_path / "sheet.csv"), "--outdir", str(tmp_path / "r")]) == 2
        assert "input 'missing.h5ad' does not exist" in capsys.readouterr().err


def test_a_sample_too_small_to_cluster_is_a_clear_message_naming_the_file(human_sample, tmp_path, capsys):
    from liverannot.io import write_h5ad

    write_h5ad(human_sample[:3].copy(), tmp_path / "tiny.h5ad")
    assert main(["qc", "-i", str(tmp_path / "tiny.h5ad"), "-o", str(tmp_path / "tiny.qc.h5ad"), "--min-cells", "1"]) == 0
    assert (tmp_path / "tiny.qc.csv").exists() and not (tmp_path / "tiny.qc.qc.csv").exists()   # one .qc
    assert main(["normalize", "-i", str(tmp_path / "tiny.qc.h5ad"), "-o", str(tmp_path / "tiny.norm.h5ad")]) == 0
    assert main(["cluster", "-i", str(tmp_path / "tiny.norm.h5ad"), "-o", str(tmp_path / "tiny.clu.h5ad")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'tiny.norm.h5ad'}: only 3 cells: too few to cluster" in err and "Traceback" not in err
    assert not (tmp_path / "tiny.clu.h5ad").exists()


@needs_chromium()
def test_the_demo_report_opens_with_every_liverannot_section(tmp_path):
    """`make demo` ends by printing this report's path: what a new user opens first."""
    assert main(["demo", "--outdir", str(tmp_path / "in"), "--n-cells", "300"]) == 0
    assert main(["run", "--input", str(tmp_path / "in" / "samplesheet.csv"), "--outdir", str(tmp_path / "out"), "-q"]) == 0
    dom, console = render(tmp_path / "out" / "cohort" / "multiqc" / "multiqc_report.html")
    titles = section_titles(dom)
    for title in ("General Statistics", "Cell QC", "Liver lineage composition", "Liver cell-type composition",
                  "Hepatocyte zonation", "Cluster annotation"):
        assert title in titles, (title, titles)
    assert {"liverannot_composition_plot", "liverannot_celltypes_plot", "liverannot_zonation_plot"} <= rendered_plot_ids(dom)
    assert not [m for m in console if "Uncaught" in m or "rror" in m], console
