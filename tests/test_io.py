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


# ------------------------------------------------------------------------------------------
# gene-name forms users bring
# ------------------------------------------------------------------------------------------

def _prefixed(a, prefix):
    b = a.copy()
    b.var_names = [prefix + g for g in a.var_names]
    return b


def test_reference_genome_prefixes_are_removed(human_sample, mouse_sample, human_nn):
    """10x references built for two genomes prefix gene names (GRCh38_ALB, mm10___Alb): detected,
    removed, and the species told from them; mitochondrial genes still found by QC."""
    from liverannot import classifier as classify, qc

    h = _prefixed(small(human_sample, 300), "GRCh38_")
    assert list(gene_symbols(h)[:3]) == list(human_sample.var_names[:3])
    assert classify.detect_species(h) == "human"
    qc.calculate_qc_metrics(h)
    assert h.obs["pct_counts_mt"].median() > 1   # the GRCh38_MT- genes
    classify.classify(h, human_nn)
    assert h.uns["liver_classify"]["n_shared_genes"] == len(human_nn.genes)
    m = _prefixed(small(mouse_sample, 300), "mm10___")
    assert classify.detect_species(m) == "mouse"
    assert list(gene_symbols(_prefixed(small(human_sample), "GRCh38-2020-A_"))[:2]) == list(human_sample.var_names[:2])


def test_a_two_genome_reference_needs_the_species_and_then_uses_its_genes(human_sample, mouse_sample, human_nn):
    import anndata as ad

    from liverannot import classifier as classify
    from liverannot.errors import GeneMatchError

    h, m = small(human_sample, 300), small(mouse_sample, 300)
    X = sp.hstack([h.X, sp.csr_matrix((h.n_obs, m.n_vars))]).tocsr()   # human cells, no mouse reads
    barnyard = ad.AnnData(X)
    barnyard.obs_names = h.obs_names
    barnyard.var_names = ["GRCh38_" + g for g in h.var_names] + ["mm10___" + g for g in m.var_names]
    with pytest.raises(GeneMatchError, match="several genomes .*GRCh38 \\(human\\), mm10 \\(mouse\\).*--species human"):
        classify.detect_species(barnyard)
    symbols = gene_symbols(barnyard, species="human")
    assert symbols[0] == h.var_names[0] and symbols[-1] == "mm10___" + m.var_names[-1]   # mouse genes left out
    classify.classify(barnyard, human_nn)
    reference = h.copy()
    classify.classify(reference, human_nn)
    assert (barnyard.obs["liver_celltype"].to_numpy() == reference.obs["liver_celltype"].to_numpy()).all()


def test_ensembl_ids_with_version_suffixes(human_sample, human_nn):
    from liverannot import classifier as classify
    from liverannot.errors import GeneMatchError

    a = small(human_sample, 200)
    a.var["gene_symbols"] = a.var_names.astype(str)
    a.var_names = [f"ENSG{i:011d}.{i % 20 + 1}" for i in range(a.n_vars)]   # e.g. ENSG00000163631.17
    assert list(gene_symbols(a)[:5]) == list(a.var["gene_symbols"][:5])
    assert classify.detect_species(a) == "human"
    del a.var["gene_symbols"]
    with pytest.raises(GeneMatchError, match="Ensembl IDs \\(e.g. ENSG00000000000.1\\).*--symbol-col.*features.tsv"):
        classify.detect_species(a)
    with pytest.raises(GeneMatchError, match="Ensembl IDs.*--symbol-col"):
        classify.classify(a, human_nn)


def test_cell_ranger_2_h5(adata, tmp_path):
    """Cell Ranger 2 writes /<genome>/{data, indices, indptr, shape, barcodes, genes, gene_names}."""
    a = small(adata)
    X = sp.csc_matrix(a.X.T.astype(np.int32))
    with h5py.File(tmp_path / "cr2.h5", "w") as f:
        g = f.create_group("GRCh38")
        g["data"], g["indices"], g["indptr"] = X.data, X.indices, X.indptr
        g["shape"] = np.array(X.shape)
        g["barcodes"] = np.array(a.obs_names, dtype="S")
        g["genes"] = np.array([f"ENSG{i:011d}" for i in range(a.n_vars)], dtype="S")
        g["gene_names"] = np.array(a.var_names, dtype="S")
    b = read_input(tmp_path / "cr2.h5")
    assert b.shape == a.shape and np.allclose(b.X.toarray(), a.X.toarray())
    assert list(gene_symbols(b)[:5]) == list(a.var_names[:5])


@pytest.mark.parametrize("name,sep", [("cells.csv.gz", ","), ("cells.tsv.gz", "\t"), ("cells.txt.gz", "\t")])
def test_gzipped_tables(adata, tmp_path, name, sep):
    a = small(adata, 40)
    df = pd.DataFrame(a.X.toarray(), index=a.obs_names, columns=a.var_names)
    with gzip.open(tmp_path / name, "wt") as fh:
        df.to_csv(fh, sep=sep)
    b = read_input(tmp_path / name)
    assert b.shape == a.shape and np.allclose(b.X.toarray(), a.X.toarray())


def test_h5ad_compression_of_the_counts_alone_round_trips_and_shrinks_the_file(human_sample, tmp_path, monkeypatch):
    """LIVERANNOT_H5AD_COMPRESSION=counts (the pipeline's default): the raw-counts layer gzip-compressed,
    the log values not; read back identical; a bad value is one clear message."""
    import anndata as ad

    from liverannot.io import H5AD_COMPRESSION_ENV
    from liverannot.normalize import normalize

    a = human_sample.copy()
    normalize(a)
    assert "counts" in a.layers
    monkeypatch.delenv(H5AD_COMPRESSION_ENV, raising=False)
    write_h5ad(a, tmp_path / "plain.h5ad")
    monkeypatch.setenv(H5AD_COMPRESSION_ENV, "counts")
    write_h5ad(a, tmp_path / "counts.h5ad")
    assert list(a.layers) == ["counts"]   # the caller's object is left as it was
    with h5py.File(tmp_path / "counts.h5ad") as f:
        assert f["layers/counts/data"].compression == "gzip" and f["layers/counts/indices"].shuffle
        assert f["X/data"].compression is None
    plain, packed = (tmp_path / "plain.h5ad").stat().st_size, (tmp_path / "counts.h5ad").stat().st_size
    assert packed < 0.8 * plain, (packed, plain)
    b = ad.read_h5ad(tmp_path / "counts.h5ad")
    assert (b.layers["counts"] != a.layers["counts"]).nnz == 0 and (b.X != a.X).nnz == 0
    assert b.obs.equals(a.obs) and list(b.var_names) == list(a.var_names)
    monkeypatch.setenv(H5AD_COMPRESSION_ENV, "zstd")
    with pytest.raises(InputError, match="use none, counts, gzip"):
        write_h5ad(a, tmp_path / "bad.h5ad")
    assert not (tmp_path / "bad.h5ad").exists()
