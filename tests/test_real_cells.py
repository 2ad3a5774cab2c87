"""The shipped models on real cells of other studies (../shared/data/real_cells) and the marker-built
classes. These are the development-set numbers of the model cards, recomputed from the bundles."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from liverannot.classifier import classify
from liverannot.evaluate import dev_datasets, expected_lineages, score, spearman_baseline
from liverannot.model import Model
from liverannot.reference import Reference, add_marker_classes, lineage_map, marker_classes

from conftest import SHARED, needs_shared

pytestmark = needs_shared


def _calls(species: str, kind: str, dataset_part: str):
    model = Model.shipped(species, kind)
    out = {}
    for name, path in dev_datasets(species).items():
        if dataset_part in name:
            a = ad.read_h5ad(path)
            classify(a, model)
            out[name] = (a, expected_lineages(name, a.obs["cell_type"]))
    assert out, f"no {species} dataset matching {dataset_part} in {SHARED}"
    return model, out


@pytest.mark.parametrize("species", ["human", "mouse"])
@pytest.mark.parametrize("kind", ["nn", "rf"])
def test_liver_dev_set_accuracy_and_baseline(species, kind):
    model, calls = _calls(species, kind, "_liver_")
    (name, (a, exp)), = calls.items()
    pred = a.obs["liver_lineage"].astype(str).to_numpy()
    acc = score(pred, exp)["lineage_accuracy"]
    liver_cols = model.reference.atlas_columns
    # the baseline over the published profiles alone (no marker-built classes), as in the model card
    published = [c for c in liver_cols if c not in set(marker_classes(species)["class"])]
    base = spearman_baseline(a, Reference(species, model.reference.profiles[published]), lineage_map(species))
    base_acc = score(base, exp)["lineage_accuracy"]
    assert acc >= 0.97, f"{species} {kind} on {name}: lineage accuracy {acc:.3f}"
    # the issue: the shipped models must beat the baseline, not tie it
    assert acc > base_acc, f"{species} {kind} does not beat the Spearman baseline ({acc:.3f} <= {base_acc:.3f})"
    # the bundle's card reports the same number
    assert model.metrics["development"]["liver"]["lineage_accuracy"] == pytest.approx(acc)


@pytest.mark.parametrize("kind", ["nn", "rf"])
def test_human_nonliver_cells_mostly_unassigned_and_shared_types_get_their_lineage(kind):
    _, calls = _calls("human", kind, "pancreas")
    (a, exp), = calls.values()
    pred = a.obs["liver_lineage"].astype(str).to_numpy()
    s = score(pred, exp)
    assert s["unassigned_rate_nonliver"] >= 0.8, s
    assert s["lineage_accuracy"] >= 0.85, s  # ductal, stellate, endothelial, macrophage, T cells
    ct = a.obs["cell_type"].astype(str).to_numpy()
    for t, lin in (("ductal", "cholangiocyte"), ("endothelial", "endothelial"), ("macrophage", "myeloid")):
        assert (pred[ct == t] == lin).mean() >= 0.85, (t, pd.Series(pred[ct == t]).value_counts().to_dict())


@pytest.mark.parametrize("kind", ["nn", "rf"])
def test_human_blood_pdcs_are_myeloid_not_plasma(kind):
    """MacParland 2018 has no plasmacytoid DC; the marker-built class keeps pDCs (which express
    JCHAIN and MZB1) from being called antibody-secreting B cells, without costing the plasmablasts."""
    model, calls = _calls("human", kind, "blood")
    assert "Plasmacytoid.dendritic.cells" in model.classes
    assert model.lineage["Plasmacytoid.dendritic.cells"] == "myeloid"
    (a, _), = calls.values()
    ct = a.obs["cell_type"].astype(str).to_numpy()
    lin = a.obs["liver_lineage"].astype(str).to_numpy()
    assert (lin[ct == "pDC"] == "myeloid").mean() >= 0.8, pd.Series(lin[ct == "pDC"]).value_counts().to_dict()
    assert (lin[ct == "plasmablast"] == "b_plasma").mean() >= 0.9
    assert (lin[ct == "B cell"] == "b_plasma").mean() >= 0.9


@pytest.mark.parametrize("kind", ["nn", "rf"])
def test_human_blood_dendritic_cells_get_their_dendritic_class(kind):
    """MacParland 2018 has no dendritic cell cluster; with the marker-built cDC class, blood cDCs get
    it (before it, none did: they were called macrophages or pDCs), while pDCs keep theirs."""
    model, calls = _calls("human", kind, "blood")
    assert model.lineage["Conventional.dendritic.cells"] == "myeloid"
    (a, _), = calls.values()
    ct = a.obs["cell_type"].astype(str).to_numpy()
    call = a.obs["liver_celltype"].astype(str).to_numpy()
    assert (call[ct == "cDC"] == "Conventional.dendritic.cells").mean() >= 0.3, pd.Series(call[ct == "cDC"]).value_counts().to_dict()
    assert (call[ct == "pDC"] == "Plasmacytoid.dendritic.cells").mean() >= 0.75, pd.Series(call[ct == "pDC"]).value_counts().to_dict()
    # monocytes are not DCs
    mono = np.isin(ct, ["classical monocyte", "nonclassical monocyte"])
    assert (call[mono] == "Conventional.dendritic.cells").mean() <= 0.1


def test_marker_class_profile_is_built_from_markers_on_the_reference_background():
    ref = Reference.from_table(SHARED / "profiles" / "human_liver_macparland2018_profiles.tsv.gz", "human")
    markers = SHARED / "markers" / "panglaodb_markers_2020.tsv.gz"
    out = add_marker_classes(ref, markers)
    assert out.classes == ref.classes + ["Plasmacytoid.dendritic.cells", "Conventional.dendritic.cells"]
    assert add_marker_classes(out, markers).classes == out.classes  # present already: nothing added
    cp = out.profiles / out.profiles.sum(axis=0) * 1e4
    pdc = cp["Plasmacytoid.dendritic.cells"]
    # its markers are among its top genes and higher than in any reference class
    for g in ("LILRA4", "IRF7", "IRF8"):
        assert pdc[g] > cp[ref.classes].loc[g].max()
        assert pdc.rank(ascending=False)[g] <= 50
    # one-lineage genes of the background drop out: no immunoglobulin, T-cell receptor or complement
    for g, owner in (("IGKC", "Antibody.secreting.B.cells"), ("CD3D", "CD3+.alpha.beta.T.cells"),
                     ("C1QA", "Non.inflammatory.macrophages")):
        assert pdc[g] < 0.25 * cp.loc[g, owner], g
    # immune housekeeping genes stay
    assert pdc["PTPRC"] > 0.5 * cp.loc["PTPRC", ["CD3+.alpha.beta.T.cells", "Mature.B.cells"]].min()
    # the same depth as the reference's classes
    assert out.profiles["Plasmacytoid.dendritic.cells"].sum() == pytest.approx(np.median(ref.profiles.sum(axis=0)))
    # conventional DCs: MHC class II among the top genes, above every macrophage and B-cell class, and no
    # macrophage complement, B-cell immunoglobulin or pDC genes
    cdc = cp["Conventional.dendritic.cells"]
    for g in ("HLA-DRA", "HLA-DPB1", "HLA-DPA1"):
        assert cdc[g] > cp.loc[g, ["Inflammatory.macrophages", "Non.inflammatory.macrophages", "Mature.B.cells"]].max()
        assert cdc.rank(ascending=False)[g] <= 100  # of 14,644 genes
    for g, owner in (("C1QA", "Non.inflammatory.macrophages"), ("IGKC", "Antibody.secreting.B.cells"),
                     ("LILRA4", "Plasmacytoid.dendritic.cells")):
        assert cdc[g] < 0.25 * cp.loc[g, owner], g


def test_unscored_evaluation_labels_are_backed_by_the_cells_expression():
    """Cell types left out of scoring (empty expected lineage) must say why, and the mislabelled
    Tabula Muris spleen 'macrophages' must really look like NK cells, not macrophages."""
    from liverannot.reference import eval_labels

    lab = eval_labels()
    unscored = lab[lab["expected_lineage"] == ""]
    assert len(unscored) == 1 and (unscored["note"].str.len() > 20).all(), unscored
    name = "mouse_tabulamuris2018_facs_spleen"
    a = ad.read_h5ad(dev_datasets("mouse")[name])
    mac = a[a.obs["cell_type"].astype(str) == "macrophage"]
    assert mac.n_obs == 20
    X = pd.DataFrame(np.asarray(mac.X.todense()) if hasattr(mac.X, "todense") else mac.X, columns=a.var_names)
    assert (X[["Nkg7", "Gzma"]].median() > 1000).all()          # CPM: NK cell effector genes
    assert (X[["Lyz2", "C1qa", "Csf1r", "Cd68"]].median() == 0).all()  # no macrophage gene
    assert (expected_lineages(name, mac.obs["cell_type"]) == "").all()
    # the other spleen cells are still scored
    assert (expected_lineages(name, ["B cell", "T cell"]) == ["b_plasma", "t_nk"]).all()


def test_best_liver_call_beside_the_unassigned_answer():
    """liver_best_celltype / liver_best_lineage: the call itself where the cell is assigned, and for
    Unassigned cells the liver class they most resemble (never Non-liver or Unassigned)."""
    model, calls = _calls("human", "nn", "pancreas")
    (a, exp), = calls.values()
    o = a.obs
    assigned = o["liver_celltype"].astype(str) != "Unassigned"
    assert 0 < assigned.mean() < 1
    assert (o.loc[assigned, "liver_best_celltype"].astype(str) == o.loc[assigned, "liver_celltype"].astype(str)).all()
    assert (o.loc[assigned, "liver_best_lineage"].astype(str) == o.loc[assigned, "liver_lineage"].astype(str)).all()
    best = o["liver_best_celltype"].astype(str)
    assert best.isin([c for c in model.classes if c != "Non-liver"]).all()
    assert (best.map(model.lineage) == o["liver_best_lineage"].astype(str)).all()
    # the best call is the most probable liver lineage, Non-liver left out
    P = a.obsm["liver_proba"]
    lins = np.array(model.class_lineages())
    liver = np.array([c != "Non-liver" for c in model.classes])
    names = sorted(set(lins[liver]))
    lp = np.stack([P[:, liver & (lins == ln)].sum(1) for ln in names], 1)
    assert (np.array(names)[lp.argmax(1)] == o["liver_best_lineage"].astype(str).to_numpy()).all()


def test_model_card_numbers_are_those_of_the_shipped_bundle():
    """The card's development numbers, gene-loss rows included (a refit on the genes the query shares),
    are recomputed from the bundle as users load it: mouse rf, the quickest to evaluate."""
    from liverannot.train_cli import SHIPPED_PROFILES, evaluate_model

    model = Model.shipped("mouse", "rf")
    liver_ref = Reference.from_table(SHARED / "profiles" / SHIPPED_PROFILES["mouse"], "mouse")
    fresh = evaluate_model(model, liver_ref, lineage_map("mouse"), seed=model.settings["seed"])
    card = model.metrics["development"]
    for section in ("liver", "other_tissues", "cross_species"):
        for key, value in fresh[section].items():
            if isinstance(value, float):
                assert card[section][key] == pytest.approx(value), f"{section}.{key}"


def test_second_atlas_profiles_through_orthologs():
    """The mouse reference's second atlas (issue #19): one column per row of cross_species_classes.tsv,
    the human profile on the genes with a one-to-one ortholog and the mouse class's own expression on
    the others, at the depth of the class it trains; Non-liver profiles drawn on both backgrounds."""
    from liverannot.orthologs import ortholog_map
    from liverannot.reference import atlas_of, cross_species_classes, training_class
    from liverannot.train_cli import shipped_reference

    mca = Reference.from_table(SHARED / "profiles" / "mouse_liver_mca2018_profiles.tsv.gz", "mouse")
    human = Reference.from_table(SHARED / "profiles" / "human_liver_macparland2018_profiles.tsv.gz", "human")
    ref = shipped_reference(SHARED, "mouse", second_atlas=True)
    rows = cross_species_classes("mouse")
    second = [c for c in ref.liver_columns if atlas_of(c) == "human"]
    assert second == [f"{r['class']}|human:{r['source_class']}" for _, r in rows.iterrows()]
    assert ref.atlas_columns == mca.classes  # the MCA's own columns, unchanged, one per class
    to_mouse = ortholog_map("human", "mouse")
    for col in second:
        cls, src = training_class(col), col.split(":", 1)[1]
        v, own = ref.profiles[col], ref.profiles[cls]
        assert v.sum() == pytest.approx(own.sum())
        shared = [g for g in ref.genes if g in set(to_mouse.values()) and g in mca.genes]
        no_ortholog = [g for g in mca.genes if g not in set(to_mouse.values())]
        assert np.allclose(v[no_ortholog], own[no_ortholog])
        # on the ortholog genes, proportional to the human profile
        h = human.profiles[src]
        pairs = [(g, m) for g, m in to_mouse.items() if g in h.index and m in shared and h[g] > 1][:200]
        ratio = np.array([v[m] / h[g] for g, m in pairs])
        assert ratio.std() / ratio.mean() < 1e-6
    # B cells' human profile speaks for the B-cell receptor genes more than the MCA's shallow cells do
    b = ref.profiles / ref.profiles.sum() * 1e4
    for g in ("Cd79a", "Cd79b", "Ms4a1"):
        assert b.loc[g, "B.cell.Fcmr.high|human:Mature.B.cells"] > 2 * b.loc[g, "B.cell.Fcmr.high"], g
    # every Non-liver type on the MCA's and on the human atlas's background, same markers
    nl = [c for c in ref.classes if c.startswith("Non-liver|")]
    own_bg = [c for c in nl if atlas_of(c) == ""]
    assert sorted(f"Non-liver|human:{c.split('|', 1)[1]}" for c in own_bg) == sorted(c for c in nl if atlas_of(c) == "human")


@pytest.mark.parametrize("species", ["human", "mouse"])
def test_atlas_classes_table_and_atlas_profiles(species):
    """data/atlas_classes.tsv (issue #32) names every cluster of every other atlas of the species in
    ../shared/data/profiles once, with a class of the species' models, Non-liver or nothing; the
    multi-atlas reference has one column per used row, the atlas's profile on the genes it measured and
    the class's own expression on the others, at the class's depth."""
    from liverannot.reference import add_atlas_profiles, atlas_classes, data_path, training_class

    table = pd.read_csv(data_path("atlas_classes.tsv"), sep="\t", comment="#", keep_default_na=False)
    table = table[table["species"] == species]
    stems = {p.name.replace("_profiles.tsv.gz", "") for p in (SHARED / "profiles").glob(f"{species}_*_profiles.tsv.gz")}
    own_stem = {"human": "human_liver_macparland2018", "mouse": "mouse_liver_mca2018"}[species]
    assert set(table["atlas"]) == stems - {own_stem}
    for atlas, g in table.groupby("atlas"):
        cols = pd.read_csv(SHARED / "profiles" / f"{atlas}_profiles.tsv.gz", sep="\t", index_col=0, nrows=1).columns
        assert sorted(g["cluster"]) == sorted(cols), atlas  # every cluster decided, once
    assert set(table["class"]) - {""} <= set(lineage_map(species)) | {"Non-liver"}
    assert (table["note"] != "").all()

    base = Reference.from_table(SHARED / "profiles" / f"{own_stem}_profiles.tsv.gz", species)
    ref = add_atlas_profiles(base, SHARED / "profiles")
    used = atlas_classes(species)
    added = [c for c in ref.classes if c not in base.classes]
    assert sorted(added) == sorted(f"{r['class']}|{r['atlas']}:{r['cluster']}" for _, r in used.iterrows())
    assert ref.atlas_columns == base.classes
    for (atlas, cls), g in used.groupby(["atlas", "class"]):
        src = pd.read_csv(SHARED / "profiles" / f"{atlas}_profiles.tsv.gz", sep="\t", index_col=0)
        src = src.groupby(level=0).sum()
        missing = [x for x in base.genes if x not in src.index]
        measured = [x for x in base.genes if x in src.index]
        col = f"{cls}|{atlas}:{g['cluster'].iloc[0]}"
        v = ref.profiles[col]
        if cls in base.classes:  # (Non-liver and the marker-built classes stand on the median background)
            own = base.profiles[[c for c in base.classes if training_class(c) == cls]].mean(axis=1)
            assert v.sum() == pytest.approx(own.sum())
            assert np.allclose(v[missing], own[missing])
        s = src[g["cluster"].iloc[0]].reindex(measured)
        keep = s > 1e-3 * s.max()
        ratio = (v[measured][keep] / s[keep]).to_numpy()
        assert ratio.std() / ratio.mean() < 1e-6, col  # proportional to the atlas's own profile
    if species == "mouse":
        # kidney tubules and lung epithelia are real Non-liver examples; other organs' B cells train B
        assert any(c.startswith("Non-liver|mouse_kidney_mca2018:") for c in added)
        assert any(c.startswith("Non-liver|mouse_lung_mca2018:AT2") for c in added)
        assert sum(training_class(c) == "B.cell.Fcmr.high" for c in added) >= 5


def test_every_mapped_atlas_cluster_looks_like_its_lineage():
    """benchmarks/atlas_check.py (#32): each cluster atlas_classes.tsv maps to a liver class scores on
    its lineage's marker module (the own liver atlas's most specific genes) no lower than half a
    standard deviation (of the own atlas's classes) below that atlas's median. Organ ambient RNA may
    make another lineage score higher (22 mouse clusters do), but a cluster far below its own lineage's
    level is not that lineage: MCA kidney's 'Endothelial.cell' (Pecam1, Cdh5, Kdr ~0; z -0.86) was one."""
    import sys
    from pathlib import Path

    from liverannot.reference import NONLIVER_CLASS, atlas_classes

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import atlas_check

    d = atlas_check.check(SHARED / "profiles")
    mapped = sum(int((atlas_classes(sp)["class"] != NONLIVER_CLASS).sum()) for sp in ("human", "mouse"))
    assert len(d) == mapped > 100   # every mapped cluster checked
    low = d[d["z_own_lineage"] < -0.5]
    assert low.empty, low[["atlas", "cluster", "class", "z_own_lineage"]].to_string()


def test_ambient_shares_follow_the_platform_and_decontamination_removes_the_soup():
    """decontaminate (#32): the ambient share read off the other lineages' genes is small for the
    sorted 10x immune census and the plate-based pancreas, larger for Microwell-seq's spleen (whose soup
    is B-cell RNA); the decontaminated spleen macrophage cluster loses its immunoglobulin transcripts
    and keeps its own (C1qa), and only liver-class clusters change."""
    from liverannot.reference import (NONLIVER_CLASS, add_atlas_profiles, ambient_shares, atlas_classes,
                                      lineage_modules)
    from liverannot.train_cli import SHIPPED_PROFILES

    def shares(species, atlas):
        own = Reference.from_table(SHARED / "profiles" / SHIPPED_PROFILES[species], species)
        lin = lineage_map(species)
        mods = lineage_modules(own, lin)
        t = atlas_classes(species)
        t = t[(t["atlas"] == atlas) & (t["class"] != NONLIVER_CLASS)]
        src = Reference.from_table(SHARED / "profiles" / f"{atlas}_profiles.tsv.gz", species).profiles
        return ambient_shares(src, t["cluster"], [lin[c] for c in t["class"]], mods)

    assert shares("human", "human_immune_census_hca_bonemarrow_cordblood").max() < 0.06
    assert shares("human", "human_pancreas_enge2017").max() < 0.1
    spleen = shares("mouse", "mouse_spleen_mca2018")
    assert spleen.median() > 0.1 and spleen.between(0, 0.5).all()

    base = Reference.from_table(SHARED / "profiles" / "mouse_liver_mca2018_profiles.tsv.gz", "mouse")
    plain = add_atlas_profiles(base, SHARED / "profiles", ["mouse_spleen_mca2018"])
    clean = add_atlas_profiles(base, SHARED / "profiles", ["mouse_spleen_mca2018"], decontaminate=True)
    col = "Kupffer.cell|mouse_spleen_mca2018:Macrophage"
    cp = lambda r: r.profiles[col] / r.profiles[col].sum() * 1e4
    assert cp(plain)["Igkc"] > 1 and cp(clean)["Igkc"] < 0.1 * cp(plain)["Igkc"]
    assert cp(clean)["C1qa"] >= cp(plain)["C1qa"]
    same = [c for c in plain.classes if c.startswith(NONLIVER_CLASS) or "|" not in c]
    assert plain.profiles[same].equals(clean.profiles[same])
    assert list(plain.classes) == list(clean.classes)


def test_organ_ambient_keeps_the_class_own_expression_of_an_organs_specific_genes():
    """organ_ambient (#32): in the kidney atlas's liver-class clusters, tubule genes (Gpx3, Cldn10:
    the kidney's ambient RNA) take the liver class's own expression; without it they are the
    atlas's; immune markers the B-cell cluster really expresses stay the atlas's either way."""
    from liverannot.reference import add_atlas_profiles

    base = Reference.from_table(SHARED / "profiles" / "mouse_liver_mca2018_profiles.tsv.gz", "mouse")
    plain = add_atlas_profiles(base, SHARED / "profiles", ["mouse_kidney_mca2018"])
    clean = add_atlas_profiles(base, SHARED / "profiles", ["mouse_kidney_mca2018"], organ_ambient=True)
    col = "B.cell.Fcmr.high|mouse_kidney_mca2018:B.cell"
    own = base.profiles["B.cell.Fcmr.high"]
    src = pd.read_csv(SHARED / "profiles" / "mouse_kidney_mca2018_profiles.tsv.gz", sep="\t", index_col=0)["B.cell"]
    for g in ("Gpx3", "Cldn10"):
        assert clean.profiles.loc[g, col] == pytest.approx(own[g])
        assert plain.profiles.loc[g, col] > 3 * own[g]          # the atlas's soup: well above a liver B cell's
    ratio = [clean.profiles.loc[g, col] / src[g] for g in ("Cd79a", "Cd79b", "Ms4a1", "Cd74")]
    assert np.std(ratio) / np.mean(ratio) < 1e-6                 # B-cell genes: the atlas's profile, rescaled
    assert clean.profiles[col].sum() == pytest.approx(own.sum())
    assert plain.profiles.columns.equals(clean.profiles.columns)
