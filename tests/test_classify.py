import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from liverannot.classifier import classify, detect_species
from liverannot.errors import GeneMatchError
from liverannot.reference import lineage_vocabulary


def lineage_accuracy(a):
    return float((a.obs["liver_lineage"].astype(str) == a.obs["true_lineage"]).mean())


@pytest.mark.parametrize("model", ["human_nn", "human_rf"])
def test_calls_on_realistic_counts(adata, model, request):
    m = request.getfixturevalue(model)
    classify(adata, m)
    obs = adata.obs
    assert set(obs["liver_lineage"].astype(str)) <= set(lineage_vocabulary())
    assert obs["liver_confidence"].between(0, 1).all()
    P = adata.obsm["liver_proba"]
    assert P.shape == (adata.n_obs, len(m.classes))
    assert np.allclose(P.sum(1), 1, atol=1e-4)
    assert adata.uns["liver_classify"]["classes"] == m.classes
    assert lineage_accuracy(adata) > 0.95


def test_cpm_and_log1p_inputs_give_the_same_calls(adata, human_nn):
    counts = adata.copy()
    classify(counts, human_nn)
    lib = np.asarray(adata.X.sum(1)).ravel()
    cpm = adata.copy()
    cpm.X = sp.csr_matrix(sp.diags(1e6 / lib) @ adata.X).astype(np.float32)
    classify(cpm, human_nn)
    assert cpm.uns["liver_classify"]["input_kind"] == "normalized"
    logd = cpm.copy()
    logd.X = logd.X.copy()
    logd.X.data = np.log1p(logd.X.data / 100)
    classify(logd, human_nn)
    assert logd.uns["liver_classify"]["input_kind"] == "log1p"
    for other in (cpm, logd):
        same = (other.obs["liver_celltype"].astype(str) == counts.obs["liver_celltype"].astype(str)).mean()
        assert same > 0.99
        assert np.abs(other.obs["liver_confidence"] - counts.obs["liver_confidence"]).max() < 0.02


def test_counts_layer_preferred_over_normalized_x(adata, human_nn):
    from liverannot.normalize import normalize

    ref = adata.copy()
    classify(ref, human_nn)
    normalize(adata)  # X becomes log1p, raw counts in layers['counts']
    classify(adata, human_nn)
    assert adata.uns["liver_classify"]["input_kind"] == "counts"
    assert (adata.obs["liver_celltype"].astype(str) == ref.obs["liver_celltype"].astype(str)).all()


def test_chunking_does_not_change_results(adata, human_nn):
    a, b = adata.copy(), adata.copy()
    classify(a, human_nn, chunk_size=97)
    classify(b, human_nn, chunk_size=100000)
    assert np.allclose(a.obsm["liver_proba"], b.obsm["liver_proba"], atol=1e-6)


def test_dense_float64_and_duplicate_genes(adata, human_nn):
    ref = adata.copy()
    classify(ref, human_nn)
    dense = adata.copy()
    dense.X = dense.X.toarray().astype(np.float64)
    classify(dense, human_nn)
    assert (dense.obs["liver_celltype"].astype(str) == ref.obs["liver_celltype"].astype(str)).all()
    # split ALB's counts over two columns with the same symbol: summed back, same answer
    dup = adata.copy()
    j = list(dup.var_names).index("ALB")
    col = dup.X[:, j].toarray().ravel()
    half = np.floor(col / 2)
    X = dup.X.tolil()
    X[:, j] = (col - half)[:, None]
    import anndata as ad

    dup = ad.AnnData(sp.hstack([X.tocsr(), sp.csr_matrix(half[:, None])]).tocsr(), obs=dup.obs,
                     var=pd.DataFrame(index=list(adata.var_names) + ["ALB"]))
    classify(dup, human_nn)
    assert np.allclose(dup.obsm["liver_proba"], ref.obsm["liver_proba"], atol=1e-5)


def test_ensembl_ids_with_symbol_column(adata, human_nn):
    ref = adata.copy()
    classify(ref, human_nn)
    adata.var["gene_symbols"] = adata.var_names
    adata.var_names = [f"ENSG{i:011d}" for i in range(adata.n_vars)]
    classify(adata, human_nn)
    assert (adata.obs["liver_celltype"].astype(str) == ref.obs["liver_celltype"].astype(str)).all()


def test_thirty_percent_of_genes_refits_and_stays_accurate(adata, human_nn):
    rng = np.random.default_rng(1)
    model_genes = set(human_nn.genes)
    keep_model = set(rng.choice(human_nn.genes, int(0.3 * len(human_nn.genes)), replace=False))
    keep = [g for g in adata.var_names if g not in model_genes or g in keep_model]
    a = adata[:, keep].copy()
    classify(a, human_nn)
    info = a.uns["liver_classify"]
    assert info["refit_on_shared_genes"] is True
    assert info["n_shared_genes"] == len(keep_model)
    assert lineage_accuracy(a) > 0.95


def test_too_few_genes_names_the_fix(adata, human_nn, mouse_sample):
    with pytest.raises(GeneMatchError, match=r"only 10 of the human nn model's .* genes"):
        classify(adata[:, list(human_nn.genes[:10])].copy(), human_nn)
    # mouse data given to the human model: the message suggests --species mouse
    with pytest.raises(GeneMatchError, match="--species mouse"):
        classify(mouse_sample.copy(), human_nn)


def test_detect_species(adata, mouse_sample):
    assert detect_species(adata) == "human"
    assert detect_species(mouse_sample) == "mouse"


def test_unassigned_path(adata, human_nn):
    # cells whose counts are shuffled across genes look like no liver cell type
    rng = np.random.default_rng(0)
    noise = adata.copy()
    X = noise.X.toarray()
    for i in range(X.shape[0]):
        X[i] = X[i, rng.permutation(X.shape[1])]
    noise.X = sp.csr_matrix(X)
    classify(noise, human_nn)
    frac_noise = (noise.obs["liver_celltype"] == "Unassigned").mean()
    classify(adata, human_nn)
    frac_real = (adata.obs["liver_celltype"] == "Unassigned").mean()
    assert frac_noise > 0.8, frac_noise
    assert frac_real < 0.05, frac_real
    assert (noise.obs.loc[noise.obs["liver_celltype"] == "Unassigned", "liver_lineage"] == "unassigned").all()
    # the threshold is a user option: 1.01 makes every cell Unassigned
    classify(adata, human_nn, min_confidence=1.01)
    assert (adata.obs["liver_celltype"] == "Unassigned").all()


def test_seed_reproducible(adata, human_nn):
    a, b = adata.copy(), adata.copy()
    classify(a, human_nn)
    classify(b, human_nn)
    assert a.obs["liver_celltype"].equals(b.obs["liver_celltype"])
