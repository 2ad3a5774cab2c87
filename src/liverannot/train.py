"""Training liver models from reference profiles (simulated cells) or from annotated AnnData."""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from .model import Model, NNBackend, RFBackend, module_matrix
from .reference import NONLIVER_PREFIX, Reference, atlas_of, module_genes, nonliver_marker_genes, select_genes, training_class
from .simulate import SimulationSettings, features, simulate_counts

log = logging.getLogger(__name__)

DEFAULT_NN = {"hidden": [256], "dropout": 0.3, "epochs": 30, "batch_size": 128, "lr": 1e-3,
              "weight_decay": 1e-5, "n_ensemble": 3}
#: no class weights: the simulation gives every liver class the same number of cells already, so
#: "balanced" weights only shrank the Non-liver class (``nonliver_share`` classes' worth of cells
#: spread over ~90 sub-profiles) to one class's weight, and the forests missed most non-liver cells
DEFAULT_RF = {"n_estimators": 150, "min_samples_leaf": 2, "max_features": "sqrt", "max_depth": None,
              "class_weight": None}
#: the fusion credits each non-hepatocyte class with its best correlation among its mixtures with
#: these shares of hepatocyte RNA (see ``classify.with_mixtures``)
DEFAULT_HEPATOCYTE_MIX = [0.25, 0.5, 0.75]
RF_SEARCH_SPACE = {"min_samples_leaf": [1, 2, 4, 8], "max_features": ["sqrt", "log2", 0.05],
                   "max_depth": [None, 16, 32]}


def ambient_weights(ref: Reference, lineage: dict[str, str], hepatocyte_share: float | None) -> np.ndarray:
    """Each reference column's share of the ambient RNA: its depth times its share of the cells, with
    the hepatocyte lineage making up ``hepatocyte_share`` of the cells (hepatocytes dominate liver
    tissue and its ambient RNA), the other liver classes sharing the rest, and no Non-liver RNA."""
    cols = ref.classes
    neg = np.array([c.startswith(NONLIVER_PREFIX) for c in cols])
    cells = np.where(neg, 0.0, 1.0)
    hep = np.array([lineage[training_class(c)] == "hepatocyte" for c in cols]) & ~neg
    rest = ~hep & ~neg
    if hepatocyte_share is not None and hep.any() and rest.any():
        cells = np.where(hep, hepatocyte_share / hep.sum(), np.where(rest, (1 - hepatocyte_share) / rest.sum(), 0.0))
    return cells * ref.depth()


def cells_per_column(columns, n_per_class: int, nonliver_share: float = 2.0) -> np.ndarray:
    """How many cells to simulate from each reference column: ``n_per_class`` for every liver class,
    shared equally among the atlases whose profiles train it and an atlas's share equally among its
    columns for the class; the Non-liver class gets ``nonliver_share`` times as many for each of its
    sources (its marker-built sub-profiles on one atlas's background, :func:`reference.add_nonliver_profiles`;
    one atlas's real organ-specific clusters, :func:`reference.add_atlas_profiles`), spread evenly over
    the source's columns, so that another atlas does not thin out the non-liver cell types."""
    cols = list(columns)
    neg = np.array([c.startswith(NONLIVER_PREFIX) for c in cols], dtype=bool)
    n_rows = np.full(len(cols), n_per_class)
    src = pd.DataFrame({"cls": [training_class(c) for c in cols], "atlas": [atlas_of(c) for c in cols]})[~neg]
    n_atlases = src.groupby("cls")["atlas"].nunique()
    n_columns = src.groupby(["cls", "atlas"]).size()
    for i, (c, a) in src.iterrows():
        if n_atlases[c] > 1 or n_columns[(c, a)] > 1:
            n_rows[i] = max(3, int(round(n_per_class / n_atlases[c] / n_columns[(c, a)])))
    # each source of Non-liver examples (the marker-built types on one atlas's background, one atlas's
    # real organ-specific clusters) gets nonliver_share x n_per_class cells over its columns
    neg_atlas = pd.Series([atlas_of(c) for c in cols])[neg]
    for _, idx in neg_atlas.groupby(neg_atlas).groups.items():
        n_rows[np.asarray(idx)] = max(3, int(round(nonliver_share * n_per_class / len(idx))))
    return n_rows


def simulate_training_set(ref: Reference, lineage: dict[str, str], genes: list[str],
                          sim: SimulationSettings, seed: int, nonliver_share: float = 2.0,
                          ambient_hepatocyte_share: float | None = None,
                          modules: dict[str, list[str]] | None = None, profile_correlation: bool = False):
    """Simulated cells (features) and their training-class indices (``ref.training_classes``).

    Every liver class gets ``sim.n_per_class`` cells; the Non-liver class gets ``nonliver_share``
    times that, spread over its sub-profiles. Non-liver profiles contaminate liver cells as foreign
    RNA (``sim.foreign_share``), never the ambient RNA.
    """
    rng = np.random.default_rng(seed)
    P = ref.proportions(genes)
    cols = ref.classes
    neg = np.array([c.startswith(NONLIVER_PREFIX) for c in cols])
    n_rows = cells_per_column(cols, sim.n_per_class, nonliver_share)
    weights = ambient_weights(ref, lineage, ambient_hepatocyte_share)
    counts, rows = simulate_counts(P, [lineage[training_class(c)] for c in cols], sim, rng,
                                   class_weights=weights, n_per_row=n_rows, foreign=neg)
    classes = ref.training_classes
    col_to_class = np.array([classes.index(training_class(c)) for c in cols])
    return (features(counts, module_matrix(genes, modules) if modules else None,
                     ref.log_profiles(genes) if profile_correlation else None), col_to_class[rows])


def _fit_temperature(logp_fn, F, y) -> float:
    """Temperature that minimises the negative log-likelihood on held-out cells."""
    best, best_t = np.inf, 1.0
    for t in np.exp(np.linspace(np.log(0.3), np.log(8), 40)):
        p = logp_fn(F, t)
        nll = -np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-9, 1)))
        if nll < best:
            best, best_t = nll, float(t)
    return best_t


def train_nn(F, y, n_classes, params, seed):
    """An ensemble of ``params['n_ensemble']`` networks, seeds seed, seed+1, ...

    Training runs on one thread: multi-threaded float sums are ordered differently on machines with
    different core counts, and over thousands of steps that changes the trained weights. One thread
    makes the shipped models the same on every machine (and is not slower for these small networks).
    """
    import torch

    projection = None
    if params.get("input_pcs"):
        projection = input_projection(F, int(params["input_pcs"]))
        F = np.asarray(F, np.float32) @ projection[0] + projection[1]
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        members = [_train_one_nn(F, y, n_classes, params, seed + k) for k in range(int(params.get("n_ensemble", 1)))]
    finally:
        torch.set_num_threads(before)
    return NNBackend(members, projection=projection)


def input_projection(F, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(P, c): the top ``k`` principal axes of the training features ``F`` (features x k) and the
    offset that centres them (``F @ P + c`` has mean 0). A feature direction the simulated cells never
    vary along gets no weight in a network trained on the projection; trained on the features
    themselves, such a direction keeps its random initial weights (its gradient is zero), and a real
    cell of another platform that has expression there is pushed by noise. Computed on one thread in
    float64, so the same cells give the same axes on every machine; each axis's sign is fixed (its
    largest loading positive)."""
    from threadpoolctl import threadpool_limits

    X = np.asarray(F, np.float64)
    mu = X.mean(axis=0)
    with threadpool_limits(1):
        Xc = X - mu
        cov = Xc.T @ Xc / max(len(X) - 1, 1)
        vals, vecs = np.linalg.eigh(cov)
    P = vecs[:, np.argsort(vals)[::-1][:k]]
    P *= np.sign(P[np.abs(P).argmax(axis=0), np.arange(P.shape[1])])
    return P.astype(np.float32), (-(mu @ P)).astype(np.float32)


def _train_one_nn(F, y, n_classes, params, seed):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    layers, d = [], F.shape[1]
    for h in params["hidden"]:
        layers += [nn.Linear(d, h), nn.ReLU(), nn.Dropout(params["dropout"])]
        d = h
    layers.append(nn.Linear(d, n_classes))
    net = nn.Sequential(*layers)
    opt = torch.optim.AdamW(net.parameters(), lr=params["lr"], weight_decay=params["weight_decay"])
    Xt, yt = torch.from_numpy(np.asarray(F, np.float32)), torch.from_numpy(np.asarray(y, np.int64))
    g = torch.Generator().manual_seed(seed)
    lossf = nn.CrossEntropyLoss()
    net.train()
    for _ in range(params["epochs"]):
        perm = torch.randperm(len(yt), generator=g)
        for i in range(0, len(yt), params["batch_size"]):
            idx = perm[i:i + params["batch_size"]]
            opt.zero_grad()
            loss = lossf(net(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    net.eval()
    linears = [m for m in net if isinstance(m, nn.Linear)]
    return [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()) for m in linears]


def train_rf(F, y, params, seed, search: bool, n_iter: int = 8):
    from sklearn.ensemble import RandomForestClassifier

    best = dict(params)
    cv_result = None
    if search:
        from sklearn.model_selection import RandomizedSearchCV

        base = RandomForestClassifier(n_estimators=60, class_weight=best["class_weight"], random_state=seed, n_jobs=-1)
        rs = RandomizedSearchCV(base, RF_SEARCH_SPACE, n_iter=n_iter, cv=3, random_state=seed,
                                scoring="f1_macro", n_jobs=1)
        rs.fit(F, y)
        best.update(rs.best_params_)
        cv_result = {"best_f1_macro_cv": float(rs.best_score_), "best_params": rs.best_params_}
    rf = RandomForestClassifier(n_estimators=best["n_estimators"], min_samples_leaf=best["min_samples_leaf"],
                                max_features=best["max_features"], max_depth=best["max_depth"],
                                class_weight=best["class_weight"], random_state=seed, n_jobs=-1)
    rf.fit(np.asarray(F, np.float32), y)
    return RFBackend(rf), best, cv_result


def train_model(ref: Reference, lineage: dict[str, str], kind: str, *, genes: list[str] | None = None,
                settings: dict | None = None, seed: int = 0, search: bool = True,
                quiet: bool = False) -> Model:
    """Train a ``kind`` ('nn' or 'rf') model from reference profiles by simulating cells."""
    settings = dict(settings or {})
    sim = SimulationSettings(**settings.get("simulation", {}))
    genes = list(genes) if genes is not None else select_genes(ref, lineage, **settings.get("gene_selection", {}))
    t0 = time.perf_counter()
    share = float(settings.get("nonliver_share", 4.0))
    hep_share = settings.get("ambient_hepatocyte_share")
    mod_settings = settings.get("module_selection")
    # modules are derived from the reference for these genes (a refit on fewer genes gets new ones)
    modules = module_genes(ref, lineage, genes, **mod_settings) if mod_settings is not None else {}
    corr = bool(settings.get("profile_correlation", False))
    F, y = simulate_training_set(ref, lineage, genes, sim, seed, nonliver_share=share,
                                 ambient_hepatocyte_share=hep_share, modules=modules, profile_correlation=corr)
    Fv, yv = simulate_training_set(ref, lineage, genes, SimulationSettings(**{**sim.to_dict(), "n_per_class": 60}),
                                   seed + 1000, nonliver_share=share, ambient_hepatocyte_share=hep_share,
                                   modules=modules, profile_correlation=corr)
    info = {}
    if kind == "nn":
        params = {**DEFAULT_NN, **settings.get("params", {})}
        backend = train_nn(F, y, len(ref.training_classes), params, seed)

        def logp(Fx, t):
            return NNBackend(backend.members, t, backend.projection).predict_proba(Fx)
    elif kind == "rf":
        params = {**DEFAULT_RF, **settings.get("params", {})}
        backend, params, cv_result = train_rf(F, y, params, seed, search)
        if cv_result:
            info["search"] = cv_result
        raw = backend.forest.predict_proba(Fv)

        def logp(Fx, t):
            p = np.power(np.clip(raw, 1e-6, 1), 1.0 / t)
            return p / p.sum(axis=1, keepdims=True)
    else:
        raise ValueError(f"unknown model kind {kind!r}")
    backend.temperature = _fit_temperature(logp, Fv, yv)
    val_acc = float((backend.predict_proba(Fv).argmax(1) == yv).mean())
    out_settings = {
        "seed": seed, "params": params, "simulation": sim.to_dict(), "nonliver_share": share,
        "ambient_hepatocyte_share": hep_share, "module_selection": mod_settings, "modules": modules,
        "profile_correlation": corr,
        "fusion_beta": float(settings.get("fusion_beta", 20.0)),
        "fusion_hepatocyte_mix": [float(a) for a in settings.get("fusion_hepatocyte_mix", DEFAULT_HEPATOCYTE_MIX)],
        "gene_selection": settings.get("gene_selection", {}),
        "thresholds": {"min_confidence": 0.5, "min_similarity": 0.0, "min_nonliver_share": 0.08,
                       **settings.get("thresholds", {})},
        "nonliver_genes": sorted(set(nonliver_marker_genes(ref)) & set(genes)),
        "temperature": backend.temperature, "n_genes": len(genes), "reference_source": ref.source,
        "training_seconds": round(time.perf_counter() - t0, 1), "simulated_validation_accuracy": val_acc,
        **info,
    }
    if not quiet:
        log.info("%s %s: %d genes, %d classes, simulated validation accuracy %.3f (%.1fs)",
                 ref.species, kind, len(genes), len(ref.training_classes), val_acc, out_settings["training_seconds"])
    classes = ref.training_classes
    return Model(ref.species, kind, genes, classes, {c: lineage[c] for c in classes}, backend, ref, out_settings)


def refit(model: Model, available_genes, *, seed: int | None = None) -> Model:
    """A model of ``model``'s kind and settings retrained for a query that has only
    ``available_genes``: feature genes are selected anew among the reference genes the query has
    (not only the surviving model genes), then cells are simulated and the model trained. The
    classifier calls this when a query shares too few of the model's genes."""
    avail = set(available_genes)
    sub = Reference(model.reference.species,
                    model.reference.profiles.loc[[g for g in model.reference.genes if g in avail]],
                    model.reference.source)
    genes = select_genes(sub, model.lineage, **model.settings.get("gene_selection", {}))
    # one network instead of an ensemble: a refit must take seconds, not minutes
    settings = {**model.settings, "params": {**model.settings.get("params", {}), "n_ensemble": 1}}
    return train_model(model.reference, model.lineage, model.kind, genes=genes, settings=settings,
                       seed=model.settings.get("seed", 0) if seed is None else seed, search=False, quiet=True)
