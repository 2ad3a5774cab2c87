"""``liverannot train``: build model bundles, and regenerate every shipped model (``--all``)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError, LiverannotError
from .reference import (NONLIVER_CLASS, Reference, add_atlas_profiles, add_marker_classes, add_nonliver_profiles,
                        add_ortholog_profiles, data_path, lineage_map)

log = logging.getLogger(__name__)

SHIPPED_PROFILES = {"human": "human_liver_macparland2018_profiles.tsv.gz",
                    "mouse": "mouse_liver_mca2018_profiles.tsv.gz"}


def _lineages_for(classes, species, path=None) -> dict[str, str]:
    lin = lineage_map(species) if species else {}
    if path:
        df = pd.read_csv(path, sep="\t", header=None, names=["class", "lineage"])
        lin.update(dict(zip(df["class"], df["lineage"])))
    missing = [c for c in classes if c not in lin]
    if missing:
        raise LiverannotError(f"no lineage known for classes {missing[:10]}; pass --lineage-map (TSV class, lineage; "
                              f"lineages: hepatocyte, cholangiocyte, endothelial, mesenchymal, myeloid, t_nk, "
                              f"b_plasma, erythroid, other).")
    return {c: lin[c] for c in classes}


def read_geo_macparland(geo_dir: str | Path):
    """Read GSE115469 (genes x cells CSV and the cluster table) into AnnData with obs['cell_type']."""
    import anndata as ad
    import scipy.sparse as sp

    geo_dir = Path(geo_dir)
    data = next((geo_dir / n for n in ("GSE115469_Data.csv.gz", "GSE115469_Data.csv") if (geo_dir / n).exists()), None)
    labels = next((geo_dir / n for n in ("GSE115469_CellClusterType.txt.gz", "Cell_clusterID_cycle.txt",
                                         "GSE115469_Cell_clusterID_cycle.txt.gz") if (geo_dir / n).exists()), None)
    if data is None or labels is None:
        raise InputError(f"{geo_dir}: expected GSE115469_Data.csv.gz and Cell_clusterID_cycle.txt from GEO "
                         f"(https://www.ncbi.nlm.nih.gov/geo/query/acc.cgi?acc=GSE115469). liverannot never "
                         f"downloads anything: fetch them on a machine with internet and pass their folder.")
    df = pd.read_csv(data, index_col=0)
    lab = pd.read_csv(labels, sep="\t")
    lab.columns = [c.strip() for c in lab.columns]
    name_col = next((c for c in lab.columns if c.lower() in ("cellname", "cell", "cell_name")), lab.columns[0])
    cl_col = next((c for c in lab.columns if "cluster" in c.lower()), None)
    if cl_col is None:
        raise InputError(f"{labels}: no cluster column (columns: {list(lab.columns)}).")
    lab = lab.set_index(name_col)
    if not lab.index.is_unique:
        raise InputError(f"{labels}: cell names are not unique ({lab.index.duplicated().sum()} repeated).")
    common = [c for c in df.columns if c in lab.index]
    if not common:
        raise InputError(f"{data} and {labels}: no cell names in common.")
    classes = pd.read_csv(data_path("macparland2018_cluster_classes.tsv"), sep="\t")
    cmap = dict(zip(classes["cluster"].astype(int), classes["class"]))
    X = sp.csr_matrix(df[common].to_numpy(np.float32).T)
    obs = pd.DataFrame({"cell_type": [cmap[int(c)] for c in lab.loc[common, cl_col]]}, index=common)
    return ad.AnnData(X=X, obs=obs, var=pd.DataFrame(index=df.index.astype(str)))


def profiles_from_adata(adata, label_key: str, species: str) -> Reference:
    """Mean raw counts per cell of each label."""
    import scipy.sparse as sp

    if label_key not in adata.obs:
        raise LiverannotError(f"--label-key {label_key!r} is not an obs column (columns: {list(adata.obs.columns)}).")
    labels = adata.obs[label_key].astype(str).to_numpy()
    classes = sorted(set(labels))
    X = adata.X
    rows = []
    for c in classes:
        m = labels == c
        rows.append(np.asarray(X[m].mean(axis=0)).ravel() if sp.issparse(X) else X[m].mean(axis=0))
    return Reference(species, pd.DataFrame(np.vstack(rows).T, index=adata.var_names.astype(str), columns=classes),
                     "annotated AnnData")


#: the settings of the shipped models, chosen on the development set, the liver cell types of the
#: other tissues and the non-liver cells (see the model cards and issue #3's notes). Merged in order:
#: SHIPPED_SETTINGS, the species' settings, the model's settings (nested dicts key by key).
SHIPPED_SETTINGS = {"gene_selection": {"n_per_class": 120}, "simulation": {"batch_sd": 1.0},
                    "nonliver_share": 4.0, "fusion_beta": 20.0}
SHIPPED_SETTINGS_BY_SPECIES = {
    # hepatocyte-heavy ambient RNA that varies by batch, foreign (non-liver) RNA in liver cells,
    # marker-module shares and correlations with the reference profiles: this lifted the liver types of
    # other tissues (pancreatic stellate and ductal cells). On mouse cells they lowered non-liver
    # detection and dev-set accuracy, so mouse keeps the plain simulation.
    "human": {"simulation": {"ambient_max": 0.3, "ambient_batch_sd": 1.0, "foreign_share": 0.3},
              "ambient_hepatocyte_share": 0.6, "module_selection": {}, "profile_correlation": True},
    "mouse": {},
}
#: hepatocyte doublets (immune and endothelial cells sorted from liver carrying hepatocyte RNA, like
#: Tabula Muris' B cell_20, 3/4 hepatocyte RNA) fixed that cell for the networks and lifted the other
#: tissues' liver types (human nn 0.96 -> 0.98); they lowered human rf's 30%-genes accuracy (0.96 ->
#: 0.93-0.95), which keeps none. Mouse rf also gets the lineage marker modules (not the class ones,
#: which sent B cells to dendritic cells) and fixed hyperparameters: the search, scored on simulated
#: cells, chose a forest with dev-set accuracy 0.94 instead of 0.98. "search": False skips it.
#: Its modules leave out genes that hepatocytes express (> 1 per 10k: the ER genes plasma cells share
#: with hepatocytes), so hepatocyte RNA no longer raises the B-cell score: with the fusion's
#: hepatocyte mixtures (train.DEFAULT_HEPATOCYTE_MIX) this fixed B cell_20 (dev 0.98 -> 1.00).
#: Human rf keeps the forest its search chose before the conventional DC class was added: with that
#: class the search moved to max_depth 16 (cross-validated macro-F1 on simulated cells 0.818; the
#: previous search's best scored 0.819), and that forest lost 6 of the other tissues' 266 liver-type
#: cells (0.966 -> 0.944). Simulated cells barely tell such forests apart, so the choice is frozen.
SHIPPED_SETTINGS_BY_MODEL = {
    ("human", "nn"): {"simulation": {"hepatocyte_doublet_share": 0.3, "hepatocyte_doublet_max": 0.8}},
    ("human", "rf"): {"params": {"min_samples_leaf": 4, "max_features": 0.05, "max_depth": None}, "search": False},
    ("mouse", "nn"): {"simulation": {"hepatocyte_doublet_share": 0.3, "hepatocyte_doublet_max": 0.8}},
    ("mouse", "rf"): {"simulation": {"hepatocyte_doublet_share": 0.5, "hepatocyte_doublet_max": 0.8},
                      "module_selection": {"n_class": 0, "max_hepatocyte_cp10k": 1.0},
                      "params": {"min_samples_leaf": 4, "max_features": "sqrt"}, "search": False},
}


def shipped_settings(species: str, kind: str) -> dict:
    """The settings of a shipped model: SHIPPED_SETTINGS, then the species' and the model's own
    settings merged in (nested dicts merged key by key)."""
    return merge_settings(SHIPPED_SETTINGS, SHIPPED_SETTINGS_BY_SPECIES.get(species, {}),
                          SHIPPED_SETTINGS_BY_MODEL.get((species, kind), {}))


def merge_settings(base: dict, *layers: dict) -> dict:
    """``base`` with each layer merged in, in order: a dict value merged key by key into the dict it
    meets (copied, so the layers are never changed), any other value replacing what was there."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for layer in layers:
        for k, v in layer.items():
            out[k] = {**(out[k] if isinstance(out.get(k), dict) else {}), **v} if isinstance(v, dict) else v
    return out


def _settings(args, base: dict | None = None) -> dict:
    s = {k: (dict(v) if isinstance(v, dict) else v) for k, v in (base or {}).items()}
    if args.n_per_class:
        s.setdefault("simulation", {})["n_per_class"] = args.n_per_class
    return s


def train_command(args) -> None:
    from .train import train_model

    if args.all:
        regenerate_shipped(args)
        return
    if not args.species:
        raise LiverannotError("--species is required (human or mouse).")
    if not args.outdir:
        raise LiverannotError("--outdir is required.")
    if args.profiles:
        ref = Reference.from_table(args.profiles, args.species)
    elif args.reference or args.geo_dir:
        if args.geo_dir:
            adata, key = read_geo_macparland(args.geo_dir), "cell_type"
        else:
            from .io import read_input

            adata, key = read_input(args.reference), args.label_key
            if not key:
                raise LiverannotError("--label-key is required with --reference.")
        ref = profiles_from_adata(adata, key, args.species)
    else:
        raise LiverannotError("give one of --profiles, --reference (with --label-key), --geo-dir or --all.")
    lin = _lineages_for(ref.classes, args.species, args.lineage_map)
    kinds = ["nn", "rf"] if args.kind == "both" else [args.kind]
    for kind in kinds:
        model = train_model(ref, lin, kind, settings=_settings(args), seed=args.seed, search=not args.no_search)
        out = Path(args.outdir) / f"{args.species}_{kind}"
        model.card = model_card(model, {})
        model.write(out)
        log.info("wrote %s", out)


# ------------------------------------------------------------------------------------------
# shipped models: train, evaluate, write card
# ------------------------------------------------------------------------------------------

def evaluate_model(model, ref, lin, *, gene_fractions=(0.3,), seed=0) -> dict:
    """Development-set metrics: real cells of other studies, non-liver cells, gene loss, baseline."""
    import anndata as ad

    from .classifier import classify
    from .evaluate import dev_datasets, expected_lineages, score, spearman_baseline

    out = {"datasets": {}, "liver": {}, "other_tissues": {}}
    liver_pred, liver_exp, base_pred, ot_pred, ot_exp = [], [], [], [], []
    for name, path in dev_datasets(model.species).items():
        a = ad.read_h5ad(path)
        exp = expected_lineages(name, a.obs["cell_type"])
        classify(a, model)
        pred = a.obs["liver_lineage"].astype(str).to_numpy()
        out["datasets"][name] = score(pred, exp)
        if "_liver_" in name:
            liver_pred.append(pred)
            liver_exp.append(exp)
            base_pred.append(spearman_baseline(a, ref, lin))
            rng = np.random.default_rng(seed)
            model_genes = set(model.genes)
            for frac in gene_fractions:
                keep = rng.choice(len(model.genes), int(frac * len(model.genes)), replace=False)
                genes = set(np.asarray(model.genes)[keep])
                # (a) 70% of the model's genes missing, the query's other genes kept
                b = a[:, [g in genes or g not in model_genes for g in a.var_names]].copy()
                classify(b, model)
                pct = int(frac * 100)
                out["liver"].setdefault(f"_pred_{pct}pct_genes", []).append(b.obs["liver_lineage"].astype(str).to_numpy())
                # (b) the query holds nothing but those 30% (a small targeted panel)
                c = a[:, [g in genes for g in a.var_names]].copy()
                classify(c, model)
                out["liver"].setdefault(f"_pred_{pct}pct_genes_only", []).append(c.obs["liver_lineage"].astype(str).to_numpy())
        else:
            ot_pred.append(pred)
            ot_exp.append(exp)
    if liver_pred:
        for k in [k for k in out["liver"] if k.startswith("_pred_")]:
            preds = out["liver"].pop(k)
            out["liver"][f"lineage_accuracy_{k[6:]}"] = score(np.concatenate(preds), np.concatenate(liver_exp))["lineage_accuracy"]
        out["liver"].update(score(np.concatenate(liver_pred), np.concatenate(liver_exp)))
        out["liver"]["baseline_spearman_lineage_accuracy"] = score(np.concatenate(base_pred),
                                                                   np.concatenate(liver_exp))["lineage_accuracy"]
    if ot_pred:
        out["other_tissues"] = score(np.concatenate(ot_pred), np.concatenate(ot_exp))
    # cross-species: this model on the other species' liver cells, genes translated by orthologs
    other = "mouse" if model.species == "human" else "human"
    for name, path in dev_datasets(other, include_other_tissues=False).items():
        a = ad.read_h5ad(path)
        exp = expected_lineages(name, a.obs["cell_type"])
        try:
            classify(a, model, query_species=other)
        except LiverannotError as exc:
            out["cross_species"] = {"dataset": name, "error": str(exc)}
            continue
        out["cross_species"] = {"dataset": name, **score(a.obs["liver_lineage"].astype(str).to_numpy(), exp)}
    return out


def simulated_per_class(model, ref, lin, seed=123) -> pd.DataFrame:
    from sklearn.metrics import precision_recall_fscore_support

    from .simulate import SimulationSettings
    from .train import simulate_training_set

    sim = SimulationSettings(**{**model.settings["simulation"], "n_per_class": 100})
    # the same simulation as training (ambient and foreign RNA, Non-liver share), on other seeds
    F, y = simulate_training_set(ref, lin, model.genes, sim, seed, modules=model.modules,
                                 nonliver_share=float(model.settings.get("nonliver_share", 4.0)),
                                 ambient_hepatocyte_share=model.settings.get("ambient_hepatocyte_share"),
                                 profile_correlation=bool(model.settings.get("profile_correlation")))
    pred = model.predict_proba(F).argmax(1)
    p, r, f, n = precision_recall_fscore_support(y, pred, labels=range(len(model.classes)), zero_division=0)
    return pd.DataFrame({"class": model.classes, "lineage": [model.lineage[c] for c in model.classes], "precision": p.round(3),
                         "recall": r.round(3), "f1": f.round(3)})


def _module_kinds(modules: dict) -> str:
    """'per class, per lineage and Non-liver' for the modules there are."""
    nonliver = f"class:{NONLIVER_CLASS}"
    kinds = []
    if any(k.startswith("class:") and k != nonliver for k in modules):
        kinds.append("per class")
    if any(k.startswith("lineage:") for k in modules):
        kinds.append("per lineage")
    if nonliver in modules:
        kinds.append(NONLIVER_CLASS)
    return ", ".join(kinds[:-1]) + (" and " if len(kinds) > 1 else "") + kinds[-1] if kinds else "none"


def model_card(model, metrics: dict, per_class: pd.DataFrame | None = None) -> str:
    s = model.settings
    lines = [f"# liverannot {model.species} {model.kind} model", "",
             f"- Classes: {len(model.classes)} fine labels in {len(set(model.lineage.values()))} lineages; "
             f"{len(model.genes)} feature genes.",
             f"- Reference: {s.get('reference_source')} (per-class mean profiles); cells simulated with per-cell "
             f"library sizes, negative-binomial noise, per-batch gene efficiencies, ambient RNA, neighbour mixing and "
             f"gene loss (settings in settings.json). Every liver class gets the same number of cells (fights "
             f"class imbalance); Non-liver gets {s.get('nonliver_share', 4.0):g} times as many, over its sub-profiles.",
             f"- Seed {s.get('seed')}; hyperparameters: `{json.dumps(s.get('params'))}`; calibration temperature "
             f"{s.get('temperature', 1):.2f}; Unassigned below lineage confidence "
             f"{s.get('thresholds', {}).get('min_confidence')} or profile similarity "
             f"{s.get('thresholds', {}).get('min_similarity')}.",
             f"- Decision: the classifier's probabilities are re-weighted among the liver classes by the cell's "
             f"correlation with each reference profile (fusion beta {s.get('fusion_beta', 0)}"
             + (f"; a non-hepatocyte class counts its best match among its mixtures with "
                f"{', '.join(f'{a:.0%}' for a in s['fusion_hepatocyte_mix'])} hepatocyte RNA, as sorted immune cells "
                f"carry hepatocyte fragments" if s.get("fusion_hepatocyte_mix") else "")
             + "); a Non-liver call "
             f"needs at least {s.get('thresholds', {}).get('min_nonliver_share')} of the cell's model-gene counts in "
             f"the {len(s.get('nonliver_genes', []))} non-liver marker genes (PanglaoDB). Queries sharing < 60% of the "
             f"genes get a model refit on the reference genes they have.",
             *([f"- Features: log1p counts per 10k of the {len(model.genes)} genes"
                + (f", plus the count shares of {len(s['modules'])} marker modules ({_module_kinds(s['modules'])}; "
                   f"gene lists in settings.json"
                   + (f"; the non-hepatocyte modules leave out genes hepatocytes express above "
                      f"{s['module_selection']['max_hepatocyte_cp10k']:g} per 10k"
                      if (s.get("module_selection") or {}).get("max_hepatocyte_cp10k") is not None else "")
                   + ")" if s.get("modules") else "")
                + (", plus the correlation with each class's reference profile" if s.get("profile_correlation") else "")
                + "."] if s.get("modules") or s.get("profile_correlation") else []),
             *([f"- Ambient RNA: up to {s['simulation']['ambient_max']:.0%} of a cell, hepatocyte-heavy "
                f"({s['ambient_hepatocyte_share']:.0%} of the cells behind it), varying by batch"
                + (f"; {s['simulation']['foreign_share']:.0%} of liver cells also carry up to "
                   f"{s['simulation']['foreign_max']:.0%} foreign (non-liver) RNA."
                   if s["simulation"].get("foreign_share") else ".")]
               if s.get("ambient_hepatocyte_share") is not None else []),
             *([f"- Hepatocyte doublets: {s['simulation']['hepatocyte_doublet_share']:.0%} of the non-hepatocyte liver "
                f"cells carry up to {s['simulation']['hepatocyte_doublet_max']:.0%} hepatocyte RNA and keep their "
                f"label (immune and endothelial cells sorted from liver often do)."]
               if s.get("simulation", {}).get("hepatocyte_doublet_share") else []),
             f"- Training time {s.get('training_seconds')} s; simulated validation accuracy (fine labels) "
             f"{s.get('simulated_validation_accuracy', float('nan')):.3f}.", ""]
    if model.kind == "rf" and not s.get("search"):
        lines += ["- Hyperparameters fixed, not searched (see `train_cli.SHIPPED_SETTINGS_BY_MODEL` for why).", ""]
    if s.get("search"):
        lines += [f"- Hyperparameter search (RandomizedSearchCV, 3-fold, macro-F1): best {s['search']['best_f1_macro_cv']:.3f} "
                  f"with `{json.dumps(s['search']['best_params'])}`.", ""]
    if metrics:
        liver = metrics.get("liver", {})
        lines += ["## Development set: real cells from studies not used in training", "",
                  "| metric | value |", "| --- | --- |"]
        for k in ("n_cells", "lineage_accuracy", "lineage_macro_f1", "baseline_spearman_lineage_accuracy",
                  "lineage_accuracy_30pct_genes", "lineage_accuracy_30pct_genes_only", "unassigned_rate_liver_types"):
            if k in liver:
                v = liver[k]
                lines.append(f"| {k} | {v:.3f} |" if isinstance(v, float) else f"| {k} | {v} |")
        ot = metrics.get("other_tissues", {})
        if ot:
            lines += ["", "Other tissues (shared cell types should get their lineage; non-liver types should be "
                      "Unassigned):", "", "| metric | value |", "| --- | --- |"]
            for k, v in ot.items():
                lines.append(f"| {k} | {v:.3f} |" if isinstance(v, float) else f"| {k} | {v} |")
        cs = metrics.get("cross_species")
        if cs and "lineage_accuracy" in cs:
            lines += ["", f"Cross-species: on {cs['dataset']} (the other species; genes translated through one-to-one "
                      f"orthologs, `--query-species`): lineage accuracy {cs['lineage_accuracy']:.3f} over {cs['n_cells']} cells."]
        lines += ["", "Per dataset:", "", "| dataset | cells | lineage accuracy | non-liver Unassigned |",
                  "| --- | --- | --- | --- |"]
        for name, m in metrics.get("datasets", {}).items():
            acc = m.get("lineage_accuracy")
            ua = m.get("unassigned_rate_nonliver")
            lines.append(f"| {name} | {m.get('n_cells')} | {'' if acc is None else f'{acc:.3f}'} | "
                         f"{'' if ua is None else f'{ua:.3f}'} |")
        lines.append("")
    if per_class is not None:
        from .report import markdown_table

        lines += ["## Per-class precision and recall (held-out simulated cells)", "", markdown_table(per_class), ""]
    from .zones import card_section

    lines += card_section()
    lines += ["Regenerate with `liverannot train --all` (see README).", ""]
    return "\n".join(lines)


#: the other species' atlas whose profiles (through orthologs, ``data/cross_species_classes.tsv``) can
#: also train a species' classes: a model's settings ``"second_atlas": True`` (no shipped model has it).
#: Measured for mouse (issue #19; the Mouse Cell Atlas is one shallow Microwell-seq study, 0.4-1.5k UMI
#: per cell): with MacParland's 10x profiles of 11 classes, every Non-liver type drawn on both atlases'
#: backgrounds and the Non-liver marker module, mouse nn's liver types of other tissues rose from
#: 0.950 to 0.982 (the lung and spleen B cells called myeloid were right) at seed 0, but its non-liver
#: cells Unassigned fell from 0.925 to 0.887 at seed 0 and to 0.338 at seed 1 (the MCA-only recipe:
#: 0.925 and 0.800), and across species from 0.932 to 0.878: lung and kidney epithelia were called
#: cholangiocytes and hepatocytes. Mouse rf with it: other tissues 0.959 -> 0.986, non-liver 0.925 ->
#: 0.950 (with twice the Non-liver cells), but Tabula Muris' B cell_20 lost to the hepatocytes, so it
#: tied the Spearman baseline on the development set. Neither is shipped.
SECOND_ATLAS = {"mouse": "human"}


#: settings keys that shape the reference, not the training (popped by :func:`pop_reference_options`)
REFERENCE_OPTIONS = ("second_atlas", "multi_atlas", "organ_ambient", "decontaminate")


def pop_reference_options(settings: dict) -> dict:
    """The :data:`REFERENCE_OPTIONS` of a model's settings, removed from them, for
    :func:`shipped_reference`."""
    return {k: bool(settings.pop(k, False)) for k in REFERENCE_OPTIONS}


def shipped_reference(root: Path, species: str, *, seed: int = 0, second_atlas: bool = False,
                      multi_atlas: bool = False, organ_ambient: bool = False,
                      decontaminate: bool = False) -> Reference:
    """The reference of the shipped models: the species' atlas profiles, the other species' profiles of
    :data:`SECOND_ATLAS` (when ``second_atlas``), the clusters of the species' other atlases
    (``data/atlas_classes.tsv``, when ``multi_atlas``; ``organ_ambient`` and ``decontaminate``: see
    :func:`reference.add_atlas_profiles`), the marker-built classes the atlas lacks
    (``data/marker_classes.tsv``), then the Non-liver profiles (drawn on the backgrounds of the
    species' own atlas and of the other species', not on every organ atlas's: those bring real
    Non-liver clusters of their own)."""
    ref = Reference.from_table(root / "profiles" / SHIPPED_PROFILES[species], species)
    other = SECOND_ATLAS.get(species) if second_atlas else None
    if other:
        ref = add_ortholog_profiles(ref, Reference.from_table(root / "profiles" / SHIPPED_PROFILES[other], other))
    if multi_atlas:
        ref = add_atlas_profiles(ref, root / "profiles", organ_ambient=organ_ambient, decontaminate=decontaminate)
    markers = root / "markers" / "panglaodb_markers_2020.tsv.gz"
    backgrounds = [other] if other else []
    return add_nonliver_profiles(add_marker_classes(ref, markers, seed=seed), markers, seed=seed,
                                 background_atlases=backgrounds)


def regenerate_shipped(args) -> None:
    from .evaluate import shared_data_dir
    from .model import Model, shipped_models_dir
    from .train import train_model

    root = Path(args.shared_data) if args.shared_data else shared_data_dir()
    if root is None or not (root / "profiles").is_dir():
        raise LiverannotError("the shared reference data (profiles/, real_cells/) was not found; pass --shared-data.")
    outroot = Path(args.outdir) if args.outdir else shipped_models_dir()
    species_list = [args.species] if args.species else ["human", "mouse"]
    kinds = ["nn", "rf"] if args.kind == "both" else [args.kind]
    for sp_name in species_list:
        # the Spearman baseline of the model card keeps the species' published profiles alone
        liver_ref = Reference.from_table(root / "profiles" / SHIPPED_PROFILES[sp_name], sp_name)
        lin = lineage_map(sp_name)
        for kind in kinds:
            t0 = time.perf_counter()
            settings = _settings(args, shipped_settings(sp_name, kind))
            search = settings.pop("search", True) and not args.no_search
            ref = shipped_reference(root, sp_name, seed=args.seed, **pop_reference_options(settings))
            model = train_model(ref, lin, kind, settings=settings, seed=args.seed, search=search)
            out = outroot / f"{sp_name}_{kind}"
            model.write(out)
            # evaluate the bundle as users load it: its reference is stored in float32, and a refit on
            # the genes a query shares selects genes from it, so the in-memory model may differ a little
            model = Model.load(out)
            metrics = evaluate_model(model, liver_ref, lin, seed=args.seed)
            per_class = simulated_per_class(model, ref, lin)
            model.metrics = {"development": metrics, "simulated_per_class": per_class.to_dict(orient="records")}
            model.card = model_card(model, metrics, per_class)
            model.write(out)
            liver = metrics.get("liver", {})
            log.info("%s %s -> %s in %.0fs: dev lineage accuracy %.3f (baseline %.3f), 30%% genes %.3f, "
                     "non-liver unassigned %.2f", sp_name, kind, out, time.perf_counter() - t0,
                     liver.get("lineage_accuracy", float("nan")), liver.get("baseline_spearman_lineage_accuracy", float("nan")),
                     liver.get("lineage_accuracy_30pct_genes", float("nan")),
                     metrics.get("other_tissues", {}).get("unassigned_rate_nonliver", float("nan")))
