"""SingleR peer (PyPI singler, own venv). Reference: per-class mean profiles (log1p CP10k). Usage: ref.h5ad query.h5ad out.csv"""
import sys

import anndata as ad
import numpy as np
import scipy.sparse as sp
import singler

ref_path, query, out = sys.argv[1:4]
ref = ad.read_h5ad(ref_path)       # classes x genes mean profiles
q = ad.read_h5ad(query)
common = [g for g in ref.var_names if g in set(q.var_names)]
R = np.log1p(np.asarray(ref[:, common].X, dtype=float) / np.asarray(ref[:, common].X.sum(1)).reshape(-1, 1) * 1e4)
Q = q[:, common].X
Q = Q.toarray() if sp.issparse(Q) else np.asarray(Q)
Q = np.log1p(Q / Q.sum(1, keepdims=True) * 1e4)
res = singler.annotate_single(test_data=Q.T, ref_data=R.T, ref_labels=list(ref.obs["label"] if "label" in ref.obs else ref.obs_names),
                              test_features=common, ref_features=common, num_threads=2)
labels = res.column("best") if hasattr(res, "column") else res["best"]
import pandas as pd

pd.DataFrame({"label": list(labels)}, index=q.obs_names).to_csv(out)
