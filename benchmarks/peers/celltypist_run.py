"""CellTypist peer (own venv: celltypist + scikit-learn==1.7.2).

Usage: train.h5ad query.h5ad out.csv  (train, then predict)
       train train.h5ad model.pkl     (train once)
       predict model.pkl query.h5ad out.csv  (the trained model on a query: predict-only timing)"""
import sys

import anndata as ad
import celltypist
import scanpy as sc


def train(path):
    tr = ad.read_h5ad(path)
    sc.pp.normalize_total(tr, target_sum=1e4)
    sc.pp.log1p(tr)
    # random_state reaches the SGD feature selection and the logistic regression (celltypist passes kwargs on)
    return celltypist.train(tr, labels="label", n_jobs=2, feature_selection=True, use_SGD=False, max_iter=200,
                            random_state=0)


def predict(model, query, out):
    q = ad.read_h5ad(query)
    sc.pp.normalize_total(q, target_sum=1e4)
    sc.pp.log1p(q)
    pred = celltypist.annotate(q, model=model, majority_voting=False)
    pred.predicted_labels[["predicted_labels"]].rename(columns={"predicted_labels": "label"}).to_csv(out)


if sys.argv[1] == "train":
    train(sys.argv[2]).write(sys.argv[3])
elif sys.argv[1] == "predict":
    predict(celltypist.models.Model.load(sys.argv[2]), *sys.argv[3:5])
else:
    predict(train(sys.argv[1]), *sys.argv[2:4])
