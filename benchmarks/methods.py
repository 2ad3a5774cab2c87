"""In-environment comparison methods, run as separate processes by run.py so that time and memory
are measured per method. Usage: python methods.py METHOD train.h5ad query.h5ad out.csv (train, then
predict); python methods.py METHOD train train.h5ad model.pkl and python methods.py METHOD predict
model.pkl query.h5ad out.csv (published_rf, published_mlp: train once, then predict-only timing)

- published_rf / published_mlp: the published approach's recipe as described: a Random Forest
  (RandomizedSearchCV) and a one-hidden-layer 256-unit network, on the DENSE log-normalized
  expression matrix of all genes shared with the reference.
- spearman: the Spearman-correlation-to-profiles baseline (argmax over class mean profiles).
"""
import sys

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp


def dense_lognorm(a, genes):
    idx = pd.Index(a.var_names).get_indexer(genes)
    X = a.X.toarray() if sp.issparse(a.X) else np.asarray(a.X)   # the densifying the recipe does
    X = np.where(idx[None, :] >= 0, X[:, np.maximum(idx, 0)], 0.0)
    tot = X.sum(1, keepdims=True)
    tot[tot == 0] = 1
    return np.log1p(X / tot * 1e4).astype(np.float32)


def fit(method, Xtr, y):
    """The published recipe's model, trained on dense log-normalized cells."""
    if method == "published_rf":
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.model_selection import RandomizedSearchCV

        rs = RandomizedSearchCV(RandomForestClassifier(n_estimators=100, n_jobs=2, random_state=0),
                                {"max_depth": [None, 20, 40], "min_samples_leaf": [1, 2, 4],
                                 "max_features": ["sqrt", "log2"]}, n_iter=4, cv=3, random_state=0)
        rs.fit(Xtr, y)
        return rs.best_estimator_
    if method == "published_mlp":
        import torch
        from torch import nn

        torch.manual_seed(0)
        classes = sorted(set(y))
        yi = torch.tensor([classes.index(c) for c in y])
        net = nn.Sequential(nn.Linear(Xtr.shape[1], 256), nn.ReLU(), nn.Linear(256, len(classes)))
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        Xt = torch.from_numpy(Xtr)
        for _ in range(20):
            perm = torch.randperm(len(yi))
            for i in range(0, len(yi), 128):
                b = perm[i:i + 128]
                opt.zero_grad()
                nn.functional.cross_entropy(net(Xt[b]), yi[b]).backward()
                opt.step()
        return {"net": net, "classes": classes}
    raise SystemExit(f"unknown method {method}")


def apply(method, model, Xq):
    if method == "published_rf":
        return model.predict(Xq)
    import torch

    with torch.no_grad():
        return np.array(model["classes"])[model["net"](torch.from_numpy(Xq)).argmax(1).numpy()]


def main():
    method = sys.argv[1]
    if sys.argv[2] == "train":  # train once: python methods.py METHOD train train.h5ad model.pkl
        import pickle

        tr = ad.read_h5ad(sys.argv[3])
        genes = list(tr.var_names)
        model = fit(method, dense_lognorm(tr, genes), tr.obs["label"].astype(str).to_numpy())
        with open(sys.argv[4], "wb") as f:
            pickle.dump({"genes": genes, "model": model}, f)
        return
    if sys.argv[2] == "predict":  # predict-only: python methods.py METHOD predict model.pkl query.h5ad out.csv
        import pickle

        with open(sys.argv[3], "rb") as f:
            saved = pickle.load(f)
        q = ad.read_h5ad(sys.argv[4])
        pred = apply(method, saved["model"], dense_lognorm(q, saved["genes"]))
        pd.DataFrame({"label": pred}, index=q.obs_names).to_csv(sys.argv[5])
        return
    train, query, out = sys.argv[2:5]
    tr = ad.read_h5ad(train)
    q = ad.read_h5ad(query)
    genes = [g for g in tr.var_names if g in set(q.var_names)]
    y = tr.obs["label"].astype(str).to_numpy()
    if method == "spearman":
        from liverannot.evaluate import spearman_baseline
        from liverannot.reference import Reference

        prof = tr.to_df().groupby(y).mean().T
        ref = Reference("x", prof)
        lab = {c: c for c in prof.columns}
        pred = spearman_baseline(q, ref, lab, genes)
    else:
        pred = apply(method, fit(method, dense_lognorm(tr, genes), y), dense_lognorm(q, genes))
    pd.DataFrame({"label": pred}, index=q.obs_names).to_csv(out)


if __name__ == "__main__":
    main()
