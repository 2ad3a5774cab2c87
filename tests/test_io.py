import gzip

import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from liverannot.errors import InputError
from liverannot.io import check_values, detect_kind, gene_symbols, read_input, write_h5ad
from liverannot.demo import write_10x


def small(adata, n=150):
    return adata[:n].copy()


def test_h5ad_roundtrip(adata, tmp_path):
    a = small(adata)
    write_h5ad(a, tmp_path / "a.h5ad")
    b = read_input(tmp_path / "a.h5ad")
    assert b.shape == a.shape
    assert (b.X != a.X).nnz == 0
    assert b.uns["liverannot"]["source"]["format"] == "h5ad"


@pytest.mark.parametrize("gz", [True, False])
def test_10x_folder(adata, tmp_path, gz):
    a = small(adata)
    write_10x(a, tmp_path / "tenx", gz=gz)
    b = read_input(tmp_path / "tenx")
    assert b.shape == a.shape
    assert list(b.obs_names) == list(a.obs_names)
    assert np.allclose(b.X.toarray(), a.X.toarray())
    assert "gene_symbols" in b.var


def test_10x_h5(adata, tmp_path):
    a = small(adata)
    X = sp.csc_matrix(a.X.T.astype(np.int32))  # genes x cells, as Cell Ranger writes it
    with h5py.File(tmp_path / "f.h5", "w") as f:
        m = f.create_group("matrix")
        m["data"], m["indices"], m["indptr"] = X.data, X.indices, X.indptr
        m["shape"] = np.array(X.shape)
        m["barcodes"] = np.array(a.obs_names, dtype="S")
        feat = m.create_group("features")
        feat["id"] = np.array([f"ENSG{i:011d}" for i in range(a.n_vars)], dtype="S")
        feat["name"] = np.array(a.var_names, dtype="S")
        feat["feature_type"] = np.array(["Gene Expression"] * a.n_vars, dtype="S")
        feat["genome"] = np.array(["GRCh38"] * a.n_vars, dtype="S")
        feat["_all_tag_keys"] = np.array([b"genome"])
    b = read_input(tmp_path / "f.h5")
    assert b.shape == a.shape
    assert np.allclose(b.X.toarray(), a.X.toarray())


def test_loom(adata, tmp_path):
    a = small(adata)
    a.write_loom(tmp_path / "a.loom")
    b = read_input(tmp_path / "a.loom")
    assert b.shape == a.shape
    assert np.allclose(b.X.toarray(), a.X.toarray())


def test_csv_cells_by_genes_and_genes_by_cells(adata, tmp_path):
    a = small(adata, 40)[:, :300]
    df = pd.DataFrame(a.X.toarray(), index=a.obs_names, columns=a.var_names)
    df.to_csv(tmp_path / "cells.csv")
    df.T.to_csv(tmp_path / "genes.tsv", sep="\t")
    b = read_input(tmp_path / "cells.csv")
    c = read_input(tmp_path / "genes.tsv")
    for x in (b, c):
        assert x.shape == a.shape
        assert list(x.var_names) == list(a.var_names)


def test_detect_kind_counts_cpm_log(adata):
    X = adata.X
    assert detect_kind(X).kind == "counts"
    lib = np.asarray(X.sum(1)).ravel()
    cpm = sp.csr_matrix(sp.diags(1e6 / lib) @ X)
    rep = detect_kind(cpm)
    assert rep.kind == "normalized" and abs(rep.target_sum - 1e6) < 1
    logd = cpm.copy()
    logd.data = np.log1p(logd.data / 100)
    assert detect_kind(logd).kind == "log1p"


def test_ensembl_index_uses_symbol_column(adata):
    a = small(adata)
    a.var["gene_symbols"] = a.var_names
    a.var_names = [f"ENSG{i:011d}" for i in range(a.n_vars)]
    assert list(gene_symbols(a)[:5]) == list(a.var["gene_symbols"][:5])


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_input(tmp_path / "nope.h5ad")


def test_empty_file(tmp_path):
    (tmp_path / "e.h5ad").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        read_input(tmp_path / "e.h5ad")


def test_truncated_h5ad(adata, tmp_path):
    write_h5ad(small(adata), tmp_path / "a.h5ad")
    data = (tmp_path / "a.h5ad").read_bytes()
    (tmp_path / "t.h5ad").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="t.h5ad"):
        read_input(tmp_path / "t.h5ad")


def test_not_anndata(tmp_path):
    with h5py.File(tmp_path / "x.h5ad", "w") as f:
        f["foo"] = np.arange(3)
    with pytest.raises(InputError, match="x.h5ad"):
        read_input(tmp_path / "x.h5ad")
    (tmp_path / "text.h5ad").write_text("hello, I am text")
    with pytest.raises(InputError, match="not an HDF5"):
        read_input(tmp_path / "text.h5ad")


def test_unknown_format(tmp_path):
    (tmp_path / "a.xlsx").write_text("x")
    with pytest.raises(InputError, match="unknown input format"):
        read_input(tmp_path / "a.xlsx")


def test_zero_cells(adata, tmp_path):
    write_h5ad(adata[:0].copy(), tmp_path / "z.h5ad")
    with pytest.raises(InputError, match="zero cells"):
        read_input(tmp_path / "z.h5ad")


@pytest.mark.parametrize("bad,word", [(np.nan, "NaN"), (np.inf, "infinite"), (-1.0, "negative")])
def test_bad_values(adata, bad, word):
    X = small(adata).X.toarray()
    X[3, 5] = bad
    with pytest.raises(InputError, match=word):
        check_values(sp.csr_matrix(X))
