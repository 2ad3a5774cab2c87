"""A small, realistic demo cohort simulated from the shipped reference profiles (no download)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io
import scipy.sparse as sp

from .io import write_h5ad
from .model import shipped_model_path
from .reference import Reference, lineage_map
from .simulate import SimulationSettings, simulate_counts

# liver-like composition: hepatocyte-rich, with every non-parenchymal lineage present
DEFAULT_SHARE = {"hepatocyte": 0.35, "endothelial": 0.15, "myeloid": 0.15, "t_nk": 0.15, "b_plasma": 0.07,
                 "cholangiocyte": 0.05, "mesenchymal": 0.05, "erythroid": 0.03}


def simulate_sample(species: str = "human", n_cells: int = 1500, seed: int = 0, mito_genes: int = 13):
    """Raw-count AnnData of ``n_cells`` liver cells over the reference's full gene set, with
    ground-truth labels in obs ``true_celltype``/``true_lineage`` and a few mitochondrial genes."""
    import anndata as ad

    full = Reference.load(shipped_model_path(species, "nn") / "reference.npz")
    liver_cols = full.atlas_columns  # the species' own atlas, one column per class
    ref = Reference(species, full.profiles[liver_cols])
    lin = lineage_map(species)
    rng = np.random.default_rng(seed)
    classes = ref.classes
    lineages = [lin[c] for c in classes]
    per_lin = {ln: [c for c in classes if lin[c] == ln] for ln in set(lineages)}
    n_per_class = {}
    for ln, share in DEFAULT_SHARE.items():
        for c in per_lin.get(ln, []):
            n_per_class[c] = max(8, int(round(n_cells * share / len(per_lin[ln]))))
    genes = ref.genes
    P = ref.proportions(genes)
    sim = SimulationSettings(n_per_class=1, min_library=1500, max_library=8000, n_batches=1, batch_sd=0.2,
                             theta_min=3, theta_max=6, gene_dropout_share=0.0, neighbour_max=0.2, ambient_max=0.05)
    blocks, labels = [], []
    for i, c in enumerate(classes):
        s = SimulationSettings(**{**sim.to_dict(), "n_per_class": n_per_class[c]})
        counts, _ = simulate_counts(P[[i]], [lin[c]], s, rng)
        blocks.append(sp.csr_matrix(counts))
        labels += [c] * n_per_class[c]
    X = sp.vstack(blocks).tocsr()
    prefix = "MT-" if species == "human" else "mt-"
    mt_names = [f"{prefix}GENE{i}" if species == "human" else f"{prefix}Gene{i}" for i in range(1, mito_genes + 1)]
    lib = np.asarray(X.sum(1)).ravel()
    mt_frac = rng.beta(2, 40, size=X.shape[0])
    mt = rng.poisson((lib * mt_frac / (1 - mt_frac))[:, None] / mito_genes, size=(X.shape[0], mito_genes))
    X = sp.hstack([X, sp.csr_matrix(mt.astype(np.float32))]).tocsr().astype(np.float32)
    order = rng.permutation(X.shape[0])
    X = X[order]
    labels = np.asarray(labels)[order]
    obs = pd.DataFrame({"true_celltype": labels, "true_lineage": [lin[c] for c in labels]},
                       index=[f"cell{i:05d}-{seed}" for i in range(X.shape[0])])
    a = ad.AnnData(X=X, obs=obs, var=pd.DataFrame(index=list(genes) + mt_names))
    return a


def write_10x(adata, folder: str | Path, gz: bool = True) -> Path:
    """Write raw counts as a 10x matrix folder (features.tsv with ids, symbols, type)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    op = (lambda p, m: gzip.open(str(p) + ".gz", m)) if gz else open
    with op(folder / "matrix.mtx", "wb") as fh:
        scipy.io.mmwrite(fh, sp.csr_matrix(adata.X).T.tocoo().astype(np.int64), field="integer")
    with op(folder / "barcodes.tsv", "wt") as fh:
        fh.write("\n".join(adata.obs_names) + "\n")
    with op(folder / "features.tsv", "wt") as fh:
        for g in adata.var_names:
            fh.write(f"{g}\t{g}\tGene Expression\n")
    return folder


def make_demo(outdir: str | Path, n_cells: int = 1500, seed: int = 0) -> Path:
    """Two human samples (a gzipped 10x folder and an h5ad) and their samplesheet."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    a = simulate_sample("human", n_cells, seed)
    write_10x(a, outdir / "donor1_10x")
    b = simulate_sample("human", n_cells, seed + 1)
    write_h5ad(b, outdir / "donor2.h5ad")
    sheet = outdir / "samplesheet.csv"
    sheet.write_text("sample,input,species\ndonor1,donor1_10x,human\ndonor2,donor2.h5ad,human\n")
    return sheet
