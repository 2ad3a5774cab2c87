"""scanpy ingest peer (own venv: scanpy + pynndescent==0.6.0). Usage: train.h5ad query.h5ad out.csv"""
import sys

import anndata as ad
import scanpy as sc

train, query, out = sys.argv[1:4]
tr = ad.read_h5ad(train)
q = ad.read_h5ad(query)
common = [g for g in tr.var_names if g in set(q.var_names)]
tr, q = tr[:, common].copy(), q[:, common].copy()
for a in (tr, q):
    sc.pp.normalize_total(a, target_sum=1e4)
    sc.pp.log1p(a)
sc.pp.highly_variable_genes(tr, n_top_genes=2000)
tr = tr[:, tr.var["highly_variable"]].copy()
q = q[:, tr.var_names].copy()
sc.pp.pca(tr, n_comps=30)
sc.pp.neighbors(tr)
sc.tl.ingest(q, tr, obs="label", embedding_method="pca")
q.obs[["label"]].to_csv(out)
