"""`liverannot train`: from profiles, from an annotated AnnData, from the MacParland 2018 GEO files."""

import gzip

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from liverannot.cli import main
from liverannot.errors import InputError
from liverannot.model import Model
from liverannot.train_cli import read_geo_macparland


def write_geo(folder, adata, clusters):
    """Write cells in the exact layout of GSE115469: GSE115469_Data.csv.gz is genes x cells (first
    column the gene), Cell_clusterID_cycle.txt is tab-separated CellName, Sample, Cluster#, CellCycle."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"P{1 + i % 5}TLH_{''.join('ACGT'[(i >> (2 * k)) % 4] for k in range(16))}_1" for i in range(adata.n_obs)]
    df = pd.DataFrame(adata.X.toarray().T.astype(int), index=adata.var_names, columns=names)
    with gzip.open(folder / "GSE115469_Data.csv.gz", "wt") as fh:
        df.to_csv(fh)
    lab = pd.DataFrame({"CellName": names, "Sample": [n.split("_")[0] for n in names], "Cluster#": clusters,
                        "CellCycle": "G1"})
    lab.to_csv(folder / "Cell_clusterID_cycle.txt", sep="\t", index=False)
    return names


def test_geo_reader_tiny_file_in_the_exact_format(tmp_path, human_sample):
    classes = pd.read_csv(__import__("liverannot.reference", fromlist=["x"]).data_path("macparland2018_cluster_classes.tsv"), sep="\t")
    cmap = dict(zip(classes["class"], classes["cluster"]))
    # MacParland's own clusters only (the demo sample also has the marker-built pDC class)
    a = human_sample[human_sample.obs["true_celltype"].isin(list(cmap))][:60, :500].copy()
    clusters = [cmap[c] for c in a.obs["true_celltype"]]
    names = write_geo(tmp_path / "geo", a, clusters)
    b = read_geo_macparland(tmp_path / "geo")
    assert b.shape == a.shape
    assert list(b.obs_names) == names
    assert list(b.obs["cell_type"]) == list(a.obs["true_celltype"])
    assert np.array_equal(b.X.toarray(), a.X.toarray())


def test_geo_reader_offline_message(tmp_path):
    with pytest.raises(InputError, match="never downloads anything"):
        read_geo_macparland(tmp_path)


def test_train_from_profiles_and_use_the_bundle(tmp_path, human_nn, adata):
    prof = human_nn.reference.class_profiles()
    prof = prof[[c for c in prof.columns if c != "Non-liver"]]
    prof.index.name = "gene"
    prof.to_csv(tmp_path / "profiles.tsv.gz", sep="\t")
    assert main(["train", "--profiles", str(tmp_path / "profiles.tsv.gz"), "--species", "human", "--kind", "rf",
                 "--no-search", "--n-per-class", "60", "--outdir", str(tmp_path / "models")]) == 0
    m = Model.load(tmp_path / "models" / "human_rf")
    assert m.classes == list(prof.columns)
    write = __import__("liverannot.io", fromlist=["x"]).write_h5ad
    write(adata[:300].copy(), tmp_path / "q.h5ad")
    assert main(["classify", "-i", str(tmp_path / "q.h5ad"), "-o", str(tmp_path / "o.csv"),
                 "--model-dir", str(tmp_path / "models" / "human_rf")]) == 0
    calls = pd.read_csv(tmp_path / "o.csv", index_col=0)
    assert (calls["liver_lineage"] == adata.obs["true_lineage"][:300].to_numpy()).mean() > 0.9


def test_train_from_annotated_anndata(tmp_path, human_sample):
    from liverannot.io import write_h5ad

    a = human_sample.copy()
    a.obs["my_label"] = a.obs["true_celltype"]
    write_h5ad(a, tmp_path / "ref.h5ad")
    assert main(["train", "--reference", str(tmp_path / "ref.h5ad"), "--label-key", "my_label", "--species", "human",
                 "--kind", "nn", "--n-per-class", "40", "--outdir", str(tmp_path / "m")]) == 0
    m = Model.load(tmp_path / "m" / "human_nn")
    assert set(m.classes) == set(a.obs["my_label"])
    assert m.settings["simulated_validation_accuracy"] > 0.8


def test_train_errors_are_clear(tmp_path, capsys):
    assert main(["train", "--species", "human", "--outdir", str(tmp_path)]) == 2
    assert "give one of --profiles" in capsys.readouterr().err
    (tmp_path / "r.h5ad").write_bytes(b"")
    assert main(["train", "--reference", str(tmp_path / "r.h5ad"), "--species", "human", "--outdir", str(tmp_path)]) == 2


@pytest.mark.parametrize("species", ["human", "mouse"])
@pytest.mark.parametrize("kind", ["nn", "rf"])
def test_shipped_bundles_were_trained_with_the_shipped_settings(species, kind):
    """`liverannot train --all` must regenerate the shipped bundles: each bundle's settings.json holds
    the settings that train_cli.shipped_settings gives today (one source of truth, no stale bundle)."""
    from liverannot.simulate import SimulationSettings
    from liverannot.train import DEFAULT_HEPATOCYTE_MIX, DEFAULT_NN, DEFAULT_RF, RF_SEARCH_SPACE
    from liverannot.train_cli import shipped_settings

    from liverannot.reference import atlas_of
    from liverannot.train_cli import SECOND_ATLAS

    want = shipped_settings(species, kind)
    searched = want.pop("search", True)
    bundle = Model.shipped(species, kind)
    have = bundle.settings
    # the second atlas's profiles are in the bundle's reference exactly when the settings want them
    second = bool(want.pop("second_atlas", False) and species in SECOND_ATLAS)
    assert any(atlas_of(c) for c in bundle.reference.liver_columns) == second
    assert (f"{SECOND_ATLAS.get(species)} profiles through one-to-one orthologs" in have["reference_source"]) == second
    for key in ("gene_selection", "nonliver_share", "fusion_beta", "module_selection", "ambient_hepatocyte_share"):
        assert have.get(key) == want.get(key), key
    assert bool(have.get("profile_correlation")) == bool(want.get("profile_correlation"))
    assert have.get("fusion_hepatocyte_mix") == want.get("fusion_hepatocyte_mix", DEFAULT_HEPATOCYTE_MIX)
    # every simulation setting: the shipped ones, the defaults for the rest
    expected_sim = SimulationSettings(**want["simulation"]).to_dict()
    assert have["simulation"].keys() == expected_sim.keys()
    for k, v in expected_sim.items():
        assert have["simulation"][k] == pytest.approx(v), f"simulation.{k}"
    defaults = DEFAULT_NN if kind == "nn" else DEFAULT_RF
    fixed = {**defaults, **want.get("params", {})}
    tuned = set(RF_SEARCH_SPACE) if (kind == "rf" and searched) else set()
    for k, v in fixed.items():
        if k not in tuned:
            assert have["params"][k] == v, f"params.{k}"
    assert ("search" in have) == (kind == "rf" and searched)


def test_cells_are_shared_among_a_class_atlases_and_non_liver_keeps_its_cells_per_background():
    from liverannot.train import cells_per_column

    cols = ["B", "B|human:Mature.B", "Endo", "Endo|human:LSEC.cv", "Endo|human:LSEC.pp", "Endo|human:Portal",
            "Hep", "Non-liver|Acinar", "Non-liver|Islet"]
    n = cells_per_column(cols, 300, nonliver_share=2.0)
    got = dict(zip(cols, n.tolist()))
    # a class of one atlas keeps n_per_class; two atlases share it equally, an atlas's share equally
    # among its columns
    assert got["Hep"] == 300
    assert got["B"] == got["B|human:Mature.B"] == 150
    assert got["Endo"] == 150 and got["Endo|human:LSEC.cv"] == got["Endo|human:Portal"] == 50
    assert got["Non-liver|Acinar"] == got["Non-liver|Islet"] == 300  # 2 x 300 over 2 sub-profiles
    # Non-liver drawn on a second background: each sub-profile keeps its cells
    both = cols + ["Non-liver|human:Acinar", "Non-liver|human:Islet"]
    n2 = dict(zip(both, cells_per_column(both, 300, nonliver_share=2.0).tolist()))
    assert n2["Non-liver|Acinar"] == n2["Non-liver|human:Islet"] == 300
    # a reference without other atlases is simulated as before: every column n_per_class
    assert cells_per_column(["A", "B", "C"], 300).tolist() == [300, 300, 300]


def test_each_non_liver_source_gets_its_cells_whatever_its_number_of_columns():
    """Real organ-specific clusters of another atlas (issue #32) are one Non-liver source, weighted as
    one background's marker-built types are: 3 kidney clusters get as many cells as 4 PanglaoDB types."""
    from liverannot.train import cells_per_column

    cols = ["Hep", "Non-liver|Acinar", "Non-liver|Islet", "Non-liver|Neuron", "Non-liver|Sperm",
            "Non-liver|mouse_kidney:Tubule.S1", "Non-liver|mouse_kidney:Tubule.S3", "Non-liver|mouse_kidney:Duct"]
    got = dict(zip(cols, cells_per_column(cols, 300, nonliver_share=2.0).tolist()))
    assert got["Non-liver|Acinar"] == got["Non-liver|Sperm"] == 150        # 600 over 4
    assert got["Non-liver|mouse_kidney:Duct"] == got["Non-liver|mouse_kidney:Tubule.S1"] == 200  # 600 over 3
    assert got["Hep"] == 300
