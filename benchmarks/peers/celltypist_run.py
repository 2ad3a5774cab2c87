"""CellTypist peer (own venv: celltypist + scikit-learn==1.7.2). Usage: train.h5ad query.h5ad out.csv"""
import sys

import anndata as ad
import celltypist
import numpy as np
import scanpy as sc

train, query, out = sys.argv[1:4]
tr = ad.read_h5ad(train)
sc.pp.normalize_total(tr, target_sum=1e4)
sc.pp.log1p(tr)
# random_state reaches the SGD feature selection and the logistic regression (celltypist passes kwargs on)
model = celltypist.train(tr, labels="label", n_jobs=2, feature_selection=True, use_SGD=False, max_iter=200,
                         random_state=0)
q = ad.read_h5ad(query)
sc.pp.normalize_total(q, target_sum=1e4)
sc.pp.log1p(q)
pred = celltypist.annotate(q, model=model, majority_voting=False)
pred.predicted_labels[["predicted_labels"]].rename(columns={"predicted_labels": "label"}).to_csv(out)
