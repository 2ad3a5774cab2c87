"""scanpy ingest peer (own venv: scanpy + pynndescent==0.6.0).

Usage: train.h5ad query.h5ad out.csv  (build the reference on the genes both share, then map the query)
       train train.h5ad ref.h5ad      (build the reference once, on all its genes: HVGs, PCA, neighbours)
       predict ref.h5ad query.h5ad out.csv  (map a query onto it: predict-only timing; the scale files
                                             have the reference's genes, so both forms see the same genes)"""
import sys

import anndata as ad
import scanpy as sc


def lognorm(a):
    sc.pp.normalize_total(a, target_sum=1e4)
    sc.pp.log1p(a)
    return a


def train(path):
    tr = lognorm(ad.read_h5ad(path))
    sc.pp.highly_variable_genes(tr, n_top_genes=2000)
    tr = tr[:, tr.var["highly_variable"]].copy()
    sc.pp.pca(tr, n_comps=30)
    sc.pp.neighbors(tr)
    return tr


def predict(tr, query, out):
    q = ad.read_h5ad(query)
    common = [g for g in tr.var_names if g in set(q.var_names)]
    # normalized over all the query's genes (as the reference was over all of its own), then the HVGs
    q = lognorm(q)[:, common].copy()
    tr = tr[:, common].copy() if len(common) < tr.n_vars else tr
    sc.tl.ingest(q, tr, obs="label", embedding_method="pca")
    q.obs[["label"]].to_csv(out)


def train_and_predict(train_path, query, out):
    """The accuracy table's form: both restricted to their common genes before normalizing."""
    tr, q = ad.read_h5ad(train_path), ad.read_h5ad(query)
    common = [g for g in tr.var_names if g in set(q.var_names)]
    tr, q = lognorm(tr[:, common].copy()), lognorm(q[:, common].copy())
    sc.pp.highly_variable_genes(tr, n_top_genes=2000)
    tr = tr[:, tr.var["highly_variable"]].copy()
    q = q[:, tr.var_names].copy()
    sc.pp.pca(tr, n_comps=30)
    sc.pp.neighbors(tr)
    sc.tl.ingest(q, tr, obs="label", embedding_method="pca")
    q.obs[["label"]].to_csv(out)


if sys.argv[1] == "train":
    train(sys.argv[2]).write_h5ad(sys.argv[3])
elif sys.argv[1] == "predict":
    predict(ad.read_h5ad(sys.argv[2]), *sys.argv[3:5])
else:
    train_and_predict(*sys.argv[1:4])
