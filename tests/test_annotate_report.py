import numpy as np
import pandas as pd
import pytest

from liverannot.annotation import annotate_clusters
from liverannot.errors import LiverannotError


def test_cluster_table_and_labels(processed):
    a, table = processed
    assert {"n_cells", "label", "lineage", "fraction_agreeing", "mean_confidence", "supporting_genes"} <= set(table.columns)
    assert table["n_cells"].sum() == a.n_obs
    assert "liver_cluster_annotation" in a.obs
    # the cluster label's lineage must match the true majority lineage of the cluster for most cells
    truth = a.obs.groupby("leiden", observed=True)["true_lineage"].agg(lambda s: s.value_counts().index[0])
    ok = (table["lineage"] == truth.reindex(table.index)).to_numpy()
    weight = table["n_cells"].to_numpy()
    assert (ok * weight).sum() / weight.sum() > 0.95
    # explanations: hepatocyte clusters are supported by hepatocyte genes
    hep = table[table["lineage"] == "hepatocyte"]
    assert len(hep) and hep["supporting_genes"].str.len().gt(0).all()


def test_mode_and_proba_agree_on_clear_clusters(processed):
    a, table = processed
    b = a.copy()
    t2 = annotate_clusters(b, mode="proba")
    clear = table["fraction_agreeing"] > 0.8
    assert (t2.loc[clear, "label"] == table.loc[clear, "label"]).all()


def test_annotate_needs_classify(adata):
    adata.obs["leiden"] = "0"
    with pytest.raises(LiverannotError, match="run `liverannot classify` first"):
        annotate_clusters(adata)


def test_plots_summary_and_multiqc(processed, tmp_path):
    from liverannot.report import aggregate, sample_plots, sample_summary, write_summary

    a, table = processed
    files = sample_plots(a, tmp_path / "plots", "s1")
    assert {f.name for f in files} == {"s1_umap.png", "s1_composition.png", "s1_confidence.png"}
    for f in files:
        assert f.read_bytes()[:4] == b"\x89PNG" and f.stat().st_size > 10000
    s1 = sample_summary(a, "s1", table)
    s2 = dict(s1, sample="s2")
    write_summary(s1, tmp_path / "s1.summary.json")
    write_summary(s2, tmp_path / "s2.summary.json")
    res = aggregate([tmp_path], tmp_path / "cohort")
    comp = pd.read_csv(tmp_path / "cohort" / "cohort_lineage_composition.csv", index_col=0)
    assert list(comp.index) == ["s1", "s2"]
    assert comp.loc["s1"].sum() == a.n_obs
    html = res["report"].read_text()
    for section in ("liverannot_composition", "liverannot_clusters", "liverannot_qc"):
        assert section in html


@pytest.mark.parametrize("n", [5, 23, 45, 80])
def test_every_category_of_a_plot_gets_its_own_colour(n):
    """The human model has 23 classes and samples have dozens of clusters: tab20 alone repeated
    colours past 20; Unassigned is grey."""
    from matplotlib.colors import to_hex

    from liverannot.pl import UNASSIGNED_COLOR, category_colors

    cats = [f"type{i}" for i in range(n)] + ["Unassigned"]
    colors = category_colors(cats)
    hexes = [to_hex(colors[c]) for c in cats[:-1]]
    assert len(set(hexes)) == n
    assert colors["Unassigned"] == UNASSIGNED_COLOR and to_hex(UNASSIGNED_COLOR) not in hexes


def test_the_report_reads_an_annotated_sample_without_its_matrices(processed, tmp_path):
    """`liverannot report` needs obs, obsm and uns only: read_annotations leaves X, layers and the
    neighbour graphs on disk, and the summary and plots equal those of the whole sample."""
    from liverannot.errors import InputError
    from liverannot.io import read_annotations, write_h5ad
    from liverannot.report import sample_plots, sample_summary

    a, table = processed
    a = a.copy()
    a.layers["counts"] = a.X.copy()
    path = tmp_path / "s1.annotated.h5ad"
    write_h5ad(a, path)
    b = read_annotations(path)
    assert b.X is None and not b.layers and "connectivities" not in b.obsp
    assert b.shape == a.shape and (b.obs_names == a.obs_names).all() and (b.var_names == a.var_names).all()
    assert b.obs.equals(a.obs) and set(b.obsm) == set(a.obsm)
    assert np.array_equal(b.obsm["X_umap"], a.obsm["X_umap"])
    assert sample_summary(b, "s1", table) == sample_summary(a, "s1", table)
    whole = sample_plots(a, tmp_path / "whole", "s1")
    light = sample_plots(b, tmp_path / "light", "s1")
    assert [f.read_bytes() for f in whole] == [f.read_bytes() for f in light]
    bad = tmp_path / "bad.h5ad"
    bad.write_bytes(path.read_bytes()[:2000])   # a truncated copy
    with pytest.raises(InputError, match="bad.h5ad"):
        read_annotations(bad)
    table_file = tmp_path / "s1.csv"
    table.to_csv(table_file)
    with pytest.raises(InputError, match="annotated .h5ad"):
        read_annotations(table_file)


def test_the_reports_bar_graphs_colour_each_type_as_every_sample_plot(processed, tmp_path):
    """MultiQC's palette repeats after ten colours (Hep.2 and portal endothelial cells shared a blue):
    the cell-type and lineage bar graphs carry their own colours, one per type, the ones the
    per-sample UMAP uses, and a type's colour does not depend on which types a sample holds."""
    import base64
    import gzip
    import json
    import re

    from matplotlib.colors import to_hex, to_rgb

    from liverannot.pl import celltype_colors, lineage_colors
    from liverannot.report import aggregate, sample_summary, write_summary

    a, table = processed
    s1 = sample_summary(a, "s1", table)
    write_summary(s1, tmp_path / "s1.summary.json")
    write_summary(dict(s1, sample="s2"), tmp_path / "s2.summary.json")
    res = aggregate([tmp_path], tmp_path / "cohort")
    types = list(pd.read_csv(tmp_path / "cohort" / "cohort_celltype_composition.csv", index_col=0).columns)
    assert len(types) > 10   # more than MultiQC's palette holds
    html = res["report"].read_text()
    plots = json.loads(gzip.decompress(base64.b64decode(
        re.search(r'id="mqc_compressed_plotdata">([^<]+)<', html).group(1))))
    for plot, colors, header in (("liverannot_celltypes_plot", celltype_colors, "liverannot_celltypes_mqc.tsv"),
                                 ("liverannot_composition_plot", lineage_colors, "liverannot_composition_mqc.tsv")):
        line = next(x for x in (tmp_path / "cohort" / "multiqc_data_in" / header).read_text().splitlines()
                    if x.startswith("# categories: "))
        cats = json.loads(line[len("# categories: "):])
        expected = {c: to_hex(colors(list(cats))[c]) for c in cats}
        assert {c: v["color"] for c, v in cats.items()} == expected
        assert len(set(expected.values())) == len(expected)       # no two categories share a colour
        shown = plots[plot]["datasets"][0]["cats"]
        assert [c["name"] for c in shown] == list(cats)
        for c in shown:   # what the report draws (MultiQC writes rgb(), rounding 255 up to 256)
            rgb = [int(v) for v in re.fullmatch(r"rgb\((\d+),(\d+),(\d+)\)", c["color"].replace(" ", "")).groups()]
            want = [round(v * 255) for v in to_rgb(expected[c["name"]])]
            assert max(abs(x - y) for x, y in zip(rgb, want)) <= 1, (c["name"], rgb, want)
    # the same colour in a sample's UMAP, whatever else the sample holds
    some = types[:3]
    assert {c: to_hex(v) for c, v in celltype_colors(some).items()} == {c: to_hex(celltype_colors(types)[c]) for c in some}
    umap_types = sorted(set(a.obs["liver_celltype"].astype(str)) | set(a.obs["liver_cluster_annotation"].astype(str)))
    assert all(to_hex(celltype_colors(umap_types)[t]) == to_hex(celltype_colors(types)[t]) for t in umap_types if t in types)
