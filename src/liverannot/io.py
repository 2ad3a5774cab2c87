"""Reading inputs, detecting what kind of values they hold, and writing outputs atomically."""

from __future__ import annotations

import gzip
import logging
import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import InputError

log = logging.getLogger(__name__)

#: var columns that commonly hold gene symbols when the index holds Ensembl IDs
SYMBOL_COLUMNS = ("gene_symbols", "gene_symbol", "symbol", "symbols", "gene_name", "gene_names",
                  "feature_name", "gene", "name", "features")
ENSEMBL_RE = re.compile(r"^ENS[A-Z]*G\d{6,}")
#: gene names of Cell Ranger references built for several genomes carry the genome's name:
#: GRCh38_ALB, mm10___Alb, GRCh38-2020-A_ALB
GENOME_PREFIX_RE = re.compile(r"^((?:GRCh|GRCm|hg|mm)\d+(?:[-.][A-Za-z0-9]+)*)_+(.+)$")
GENOME_SPECIES = {"grch": "human", "hg": "human", "grcm": "mouse", "mm": "mouse"}

ORIGINAL_SYMBOL_COL = "liverannot_gene_symbol"


def _anndata():
    import anndata

    return anndata


def detect_format(path: str | os.PathLike) -> str:
    """Return one of h5ad, 10x_dir, 10x_h5, loom, csv, tsv for an input path."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file or folder. Check the path (relative paths are taken "
                         f"from the current folder, {Path.cwd()}).")
    if p.is_dir():
        names = {f.name for f in p.iterdir()}
        if any(n.startswith("matrix.mtx") for n in names):
            return "10x_dir"
        raise InputError(f"{p}: a folder, but not a 10x matrix folder (expected matrix.mtx[.gz] with "
                         f"barcodes.tsv[.gz] and features.tsv[.gz] or genes.tsv).")
    name = p.name.lower()
    for suffix, fmt in ((".h5ad", "h5ad"), (".h5", "10x_h5"), (".loom", "loom"),
                        (".csv", "csv"), (".csv.gz", "csv"), (".tsv", "tsv"), (".tsv.gz", "tsv"),
                        (".txt", "tsv"), (".txt.gz", "tsv")):
        if name.endswith(suffix):
            return fmt
    raise InputError(f"{p}: unknown input format. Supported: .h5ad, a 10x matrix folder, 10x .h5, "
                     f".loom, .csv/.tsv (cells x genes, or genes x cells with --transpose).")


def read_input(path: str | os.PathLike, *, transpose: bool | None = None, backed: bool = False):
    """Read any supported input into an AnnData with cells as rows.

    Raises :class:`InputError` with a message naming the file and the fix for anything that is
    not a readable single-cell matrix (missing, empty, truncated, wrong type, zero cells/genes).
    ``backed=True`` opens an .h5ad read-only without loading its matrix (for large files that are
    only streamed through, as by ``classify`` writing a table).
    """
    import warnings

    p = Path(path)
    fmt = detect_format(p)
    if p.is_file() and p.stat().st_size == 0:
        raise InputError(f"{p}: the file is empty (0 bytes). Re-copy or re-export it.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            adata = _read(p, fmt, transpose, backed)
    except InputError:
        raise
    except Exception as exc:  # any reader failure becomes one clear message
        hint = {
            "h5ad": "it is not a readable AnnData .h5ad file (truncated download or another format?)",
            "10x_h5": "it is not a readable 10x Genomics HDF5 matrix (filtered_feature_bc_matrix.h5)",
            "10x_dir": "the 10x folder is incomplete or corrupt (need matrix.mtx, barcodes, features)",
            "loom": "it is not a readable .loom file",
            "csv": "it is not a readable table (cells x genes with a header row and an index column)",
            "tsv": "it is not a readable table (cells x genes with a header row and an index column)",
        }[fmt]
        raise InputError(f"{p}: cannot read: {hint}. ({type(exc).__name__}: {exc})") from None
    if adata.n_obs == 0:
        raise InputError(f"{p}: holds zero cells. Check that the file is the filtered matrix.")
    if adata.n_vars == 0:
        raise InputError(f"{p}: holds zero genes.")
    if not backed:
        adata.uns.setdefault("liverannot", {})["source"] = {"path": str(p), "format": fmt}
        if not adata.var_names.is_unique:
            # keep the symbols as given (duplicates are summed for classification), index made unique
            n_dup = int(adata.var_names.duplicated().sum())
            adata.var[ORIGINAL_SYMBOL_COL] = adata.var_names.astype(str)
            adata.var_names_make_unique()
            log.info("%s: %d duplicated gene names made unique (originals in var[%r])", p, n_dup, ORIGINAL_SYMBOL_COL)
    return adata


def read_annotations(path: str | os.PathLike):
    """An .h5ad's annotations (obs, var, obsm, uns) without its matrices (X, layers, obsp, varm):
    what the report needs from an annotated sample. Reading the matrices too would cost a
    100,000-cell sample ~3 GB of memory and seconds of reading for plots of its obs and UMAP."""
    import warnings

    p = Path(path)
    if detect_format(p) != "h5ad":
        raise InputError(f"{p}: an annotated .h5ad is needed here (from `liverannot annotate`).")
    ad = _anndata()
    try:
        import h5py
        from anndata.io import read_elem

        if not h5py.is_hdf5(p):
            raise InputError(f"{p}: not an HDF5 file, so not an .h5ad (truncated or mis-named?).")
        with h5py.File(p, "r") as f, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parts = {k: read_elem(f[k]) for k in ("obs", "var", "obsm", "uns") if k in f}
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{p}: cannot read: it is not a readable AnnData .h5ad file (truncated download or "
                         f"another format?). ({type(exc).__name__}: {exc})") from None
    if "obs" not in parts or len(parts["obs"]) == 0:
        raise InputError(f"{p}: holds zero cells.")
    return ad.AnnData(obs=parts["obs"], var=parts.get("var"), obsm=parts.get("obsm"), uns=parts.get("uns"))


def _read(p: Path, fmt: str, transpose: bool | None, backed: bool = False):
    ad = _anndata()
    if fmt == "h5ad":
        import h5py

        if not h5py.is_hdf5(p):
            raise InputError(f"{p}: not an HDF5 file, so not an .h5ad (truncated or mis-named?).")
        return ad.read_h5ad(p, backed="r") if backed else ad.read_h5ad(p)
    if fmt == "10x_h5":
        import h5py
        import scanpy as sc

        if not h5py.is_hdf5(p):
            raise InputError(f"{p}: not an HDF5 file, so not a 10x .h5 (truncated or mis-named?).")
        with h5py.File(p, "r") as f:
            if "X" in f and "obs" in f:
                return ad.read_h5ad(p)
        a = sc.read_10x_h5(p)
        return a
    if fmt == "10x_dir":
        return _read_10x_dir(p)
    if fmt == "loom":
        a = ad.read_loom(p, sparse=True)
        return a
    sep = "," if fmt == "csv" else "\t"
    df = pd.read_csv(p, sep=sep, index_col=0)
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise InputError(f"{p}: the table has no data rows or no data columns.")
    non_numeric = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if non_numeric:
        raise InputError(f"{p}: columns {non_numeric[:5]} are not numeric; the table must hold only "
                         f"counts, with cell ids in the first column and genes in the header.")
    if transpose is None:
        # genes x cells tables (GEO style) have gene symbols or Ensembl IDs as row names
        transpose = _gene_score(df.index) > _gene_score(df.columns)
        if transpose:
            log.info("%s: rows are genes: reading the table as genes x cells", p)
    if transpose:
        df = df.T
    X = sp.csr_matrix(df.to_numpy(dtype=np.float32))
    a = ad.AnnData(X=X, obs=pd.DataFrame(index=df.index.astype(str)),
                   var=pd.DataFrame(index=df.columns.astype(str)))
    return a


@lru_cache(maxsize=1)
def _known_genes() -> frozenset[str]:
    """Gene symbols of the shipped models (both species): a vocabulary to recognise gene axes."""
    from .model import shipped_models_dir

    genes: set[str] = set()
    for f in shipped_models_dir().glob("*/genes.txt"):
        genes.update(f.read_text().split())
    return frozenset(genes)


def _gene_score(index) -> float:
    vals = [str(v) for v in list(index[:2000])]
    if not vals:
        return 0.0
    known = _known_genes()
    return sum(v in known or bool(ENSEMBL_RE.match(v)) for v in vals) / len(vals)


def _open_text(path: Path):
    return gzip.open(path, "rt") if path.name.endswith(".gz") else open(path)


def _read_10x_dir(p: Path):
    """Read a 10x matrix folder (v2 genes.tsv or v3 features.tsv.gz), gzipped or not."""
    import scipy.io

    ad = _anndata()

    def find(*names):
        for n in names:
            for cand in (p / n, p / (n + ".gz")):
                if cand.exists():
                    return cand
        return None

    mtx, bc, feat = find("matrix.mtx"), find("barcodes.tsv"), find("features.tsv", "genes.tsv")
    missing = [n for n, f in (("matrix.mtx", mtx), ("barcodes.tsv", bc), ("features.tsv/genes.tsv", feat))
               if f is None]
    if missing:
        raise InputError(f"{p}: 10x folder lacks {', '.join(missing)} (plain or .gz).")
    with (gzip.open(mtx, "rb") if mtx.name.endswith(".gz") else open(mtx, "rb")) as fh:
        X = scipy.io.mmread(fh)
    X = sp.csr_matrix(X.T, dtype=np.float32)
    with _open_text(bc) as fh:
        barcodes = [line.strip().split("\t")[0] for line in fh if line.strip()]
    with _open_text(feat) as fh:
        rows = [line.rstrip("\n").split("\t") for line in fh if line.strip()]
    if X.shape != (len(barcodes), len(rows)):
        raise InputError(f"{p}: matrix is {X.shape[1]} genes x {X.shape[0]} cells but barcodes list "
                         f"{len(barcodes)} and features list {len(rows)}: the folder is inconsistent.")
    ids = [r[0] for r in rows]
    symbols = [r[1] if len(r) > 1 else r[0] for r in rows]
    var = pd.DataFrame({"gene_ids": ids, "gene_symbols": symbols}, index=ids)
    if len(rows[0]) > 2:
        var["feature_types"] = [r[2] for r in rows]
    a = ad.AnnData(X=X, obs=pd.DataFrame(index=barcodes), var=var)
    if "feature_types" in var and (var["feature_types"] != "Gene Expression").any():
        a = a[:, (var["feature_types"] == "Gene Expression").to_numpy()].copy()
    return a


# --------------------------------------------------------------------------------------------
# values: validation and kind detection
# --------------------------------------------------------------------------------------------

def _backed_csr(X):
    """The h5py group of a backed CSR matrix (anndata's on-disk sparse dataset), else None."""
    group = getattr(X, "group", None)
    if getattr(X, "format", None) != "csr" or group is None:
        return None
    try:
        return group if all(k in group for k in ("data", "indices", "indptr")) else None
    except TypeError:
        return None


def _csr_view(data, indices, indptr, shape) -> sp.csr_matrix:
    """A CSR matrix over these arrays without copying them (scipy's constructor copies views of
    larger arrays when it prunes)."""
    m = sp.csr_matrix(shape, dtype=data.dtype)
    m.data, m.indices, m.indptr = data, indices, indptr.astype(indices.dtype, copy=False)
    return m


def iter_row_chunks(X, chunk_size: int = 10000, *, reuse: bool = False) -> Iterator[tuple[int, int, object]]:
    """Yield (start, stop, block) row blocks of a dense, sparse or backed matrix.

    In-memory CSR blocks are views (no copy); a backed CSR matrix (h5ad opened backed) is read
    straight from its data, indices and indptr datasets, one contiguous range per block, without
    anndata's per-block index bookkeeping. ``reuse=True`` (backed CSR): the blocks are read into two
    buffers taken in turn, so a block is valid only until the next one is asked for (a caller that
    keeps no block spares the operating system mapping fresh memory for every block: at 10,000
    cells a block holds ~10^8 bytes)."""
    n = X.shape[0]
    group = _backed_csr(X)
    if group is not None:
        from concurrent.futures import ThreadPoolExecutor

        indptr = group["indptr"][:]
        data, indices = group["data"], group["indices"]
        buffers = [[np.empty(0, data.dtype), np.empty(0, indices.dtype)] for _ in range(2)]

        def read(start):
            stop = min(n, start + chunk_size)
            a, b = int(indptr[start]), int(indptr[stop])
            if reuse:
                buf = buffers[(start // chunk_size) % 2]
                if buf[0].size < b - a:
                    buf[:] = np.empty(b - a + (b - a) // 4, data.dtype), np.empty(b - a + (b - a) // 4, indices.dtype)
                d, i = buf[0][:b - a], buf[1][:b - a]
            else:
                d = np.empty(b - a, dtype=data.dtype)
                i = np.empty(b - a, dtype=indices.dtype)
            if b > a:
                data.read_direct(d, np.s_[a:b])
                indices.read_direct(i, np.s_[a:b])
            return start, stop, _csr_view(d, i, indptr[start:stop + 1] - a, (stop - start, X.shape[1]))

        # the next block is read while the caller works on this one (the read waits on the disk or
        # copies from the page cache, mostly outside the GIL)
        starts = list(range(0, n, chunk_size))
        with ThreadPoolExecutor(max_workers=1) as pool:
            ahead = pool.submit(read, starts[0]) if starts else None
            for k in range(len(starts)):
                block = ahead.result()
                ahead = pool.submit(read, starts[k + 1]) if k + 1 < len(starts) else None
                yield block
        return
    if isinstance(X, (sp.csr_matrix, sp.csr_array)):
        for start in range(0, n, chunk_size):
            stop = min(n, start + chunk_size)
            a, b = X.indptr[start], X.indptr[stop]
            yield start, stop, _csr_view(X.data[a:b], X.indices[a:b], X.indptr[start:stop + 1] - a,
                                         (stop - start, X.shape[1]))
        return
    for start in range(0, n, chunk_size):
        stop = min(n, start + chunk_size)
        yield start, stop, X[start:stop]


def _values(block) -> np.ndarray:
    return block.data if sp.issparse(block) else np.asarray(block).ravel()


def check_values(X, name: str = "input") -> None:
    """Refuse negative, NaN or infinite values, naming how many there are."""
    n_nan = n_inf = n_neg = 0
    for _, _, block in iter_row_chunks(X, 20000):
        v = _values(block)
        if v.size == 0 or (v.min() >= 0 and np.isfinite(v.max())):  # one pass each, no mask (NaN fails both)
            continue
        n_nan += int(np.isnan(v).sum())
        n_inf += int(np.isinf(v).sum())
        n_neg += int((v < 0).sum())
    problems = []
    if n_nan:
        problems.append(f"{n_nan} NaN values")
    if n_inf:
        problems.append(f"{n_inf} infinite values")
    if n_neg:
        problems.append(f"{n_neg} negative values")
    if problems:
        raise InputError(f"{name}: the expression matrix holds {', '.join(problems)}. liverannot needs "
                         f"raw counts (or CPM / log1p-normalized values); scaled or centred data "
                         f"(e.g. after sc.pp.scale or regress_out) cannot be classified. Use the raw "
                         f"counts layer (--layer counts) or the original matrix.")


@dataclass
class KindReport:
    kind: str           # counts | normalized | log1p
    detail: str         # human-readable explanation
    target_sum: float | None = None


def detect_kind(X, sample_rows: int = 2000) -> KindReport:
    """Tell raw counts, library-size-normalized values (CPM, CP10k) and log1p-normalized apart."""
    n = X.shape[0]
    rows = np.arange(n) if n <= sample_rows else np.random.default_rng(0).choice(n, sample_rows, replace=False)
    rows.sort()
    block = X[rows]
    if sp.issparse(block):
        block = sp.csr_matrix(block)
        vals = block.data
        sums = np.asarray(block.sum(axis=1)).ravel()
    else:
        block = np.asarray(block)
        vals = block[block != 0]
        sums = block.sum(axis=1)
    if vals.size == 0:
        return KindReport("counts", "all sampled values are zero")
    integer = np.allclose(vals, np.round(vals), atol=1e-4)
    vmax = float(vals.max())
    sums = sums[sums > 0]
    cv = float(np.std(sums) / np.mean(sums)) if sums.size else 0.0
    if integer and vmax > 1.5:
        return KindReport("counts", f"integer values (max {vmax:.0f}): raw counts")
    if integer:
        return KindReport("counts", "integer values 0/1: raw counts (very shallow)")
    if cv < 0.02:
        target = float(np.median(sums))
        return KindReport("normalized", f"non-integer values with equal cell totals ({target:,.0f}): "
                          f"library-size normalized (e.g. CPM)", target)
    if vmax < 30:
        ex = np.expm1(block.data if sp.issparse(block) else block)
        if sp.issparse(block):
            esums = np.asarray(sp.csr_matrix((ex, block.indices, block.indptr), shape=block.shape).sum(1)).ravel()
        else:
            esums = ex.sum(1)
        esums = esums[esums > 0]
        ecv = float(np.std(esums) / np.mean(esums)) if esums.size else 1.0
        if ecv < 0.05:
            return KindReport("log1p", f"values up to {vmax:.1f} whose expm1 gives equal cell totals "
                              f"({np.median(esums):,.0f}): log1p of normalized data", float(np.median(esums)))
        return KindReport("log1p", f"non-integer values up to {vmax:.1f}: taken as log1p-transformed")
    return KindReport("normalized", f"non-integer values up to {vmax:.0f} with unequal totals: taken "
                      f"as (corrected or scaled) counts on a linear scale")


def linear_expression(block, kind: str):
    """Return a linear-scale (counts-like) version of a row block of the given kind."""
    if kind != "log1p":
        return block
    if sp.issparse(block):
        out = sp.csr_matrix(block, dtype=np.float32, copy=True)
        out.data = np.expm1(out.data)
        return out
    return np.expm1(np.asarray(block, dtype=np.float32))


# --------------------------------------------------------------------------------------------
# gene identifiers
# --------------------------------------------------------------------------------------------

def _genomes_of(parts: pd.DataFrame) -> dict[str, dict]:
    """reference_genomes() from the names split by GENOME_PREFIX_RE (prefix, gene columns)."""
    prefixes = parts[0].dropna()
    if len(prefixes) < 0.5 * len(parts):
        return {}
    return {prefix: {"species": GENOME_SPECIES[re.match(r"[A-Za-z]+", prefix).group(0).lower()], "n_genes": int(n)}
            for prefix, n in prefixes.value_counts().sort_index().items()}


def reference_genomes(names) -> dict[str, dict]:
    """The genome prefixes of gene names (see GENOME_PREFIX_RE) when at least half of the names
    carry one: {prefix: {"species": human|mouse, "n_genes": n}}; else {}."""
    return _genomes_of(pd.Index(names).astype(str).str.extract(GENOME_PREFIX_RE))


def several_species(genomes: dict[str, dict]) -> bool:
    """Whether reference_genomes() found the genomes of more than one species (a barnyard reference)."""
    return len({g["species"] for g in genomes.values()}) > 1


def strip_genome_prefixes(names, species: str | None = None) -> pd.Index:
    """Gene names without their reference-genome prefix (GRCh38_ALB -> ALB), when they carry one.

    For a reference of two species' genomes (a mixed-species, "barnyard", 10x reference), only the
    genes of ``species`` are stripped; the other genome's keep their prefixed names, so they match
    no model gene. Without ``species`` every prefix is stripped (QC counts every mitochondrial gene)."""
    names = pd.Index(names).astype(str)
    parts = names.str.extract(GENOME_PREFIX_RE)
    genomes = _genomes_of(parts)
    if not genomes:
        return names
    keep = {p for p, g in genomes.items() if species is None or g["species"] == species}
    stripped = [gene if prefix in keep else name for name, prefix, gene in zip(names, parts[0], parts[1])]
    log.info("gene names carry reference-genome prefixes (%s): %s", ", ".join(genomes),
             f"using the {species} genes" if species and len(genomes) > 1 else "prefixes removed")
    return pd.Index(stripped)


def gene_id_hint(symbols) -> str:
    """Why gene names match no model, and what to pass: for error messages."""
    genomes = reference_genomes(symbols)
    sample = [str(s) for s in list(symbols)[:500]]
    if several_species(genomes):
        parts = ", ".join(f"{p} ({g['species']})" for p, g in genomes.items())
        return (f" The genes come from a reference of several genomes ({parts}), as in a mixed-species "
                f"10x reference: pass --species human or --species mouse to use that genome's genes.")
    if sample and sum(bool(ENSEMBL_RE.match(s)) for s in sample) > 0.5 * len(sample):
        return (f" The genes are Ensembl IDs (e.g. {sample[0]}) and no column of gene symbols was found "
                f"(looked for {', '.join(SYMBOL_COLUMNS)}): pass --symbol-col with the var column that holds "
                f"symbols (in a 10x folder they are the second column of features.tsv).")
    return ""


def gene_symbols(adata, symbol_col: str | None = None, species: str | None = None) -> pd.Index:
    """Gene symbols for adata.var: the index, or a symbol column when the index holds Ensembl IDs
    (Ensembl version suffixes such as .17 do not matter), without reference-genome prefixes
    (GRCh38_ALB -> ALB; of a two-genome reference, only ``species``' genes: see strip_genome_prefixes)."""
    return strip_genome_prefixes(gene_names(adata, symbol_col), species)


def gene_names(adata, symbol_col: str | None = None) -> pd.Index:
    """The gene names as the file gives them: the index, or a symbol column when the index holds Ensembl IDs."""
    if symbol_col:
        if symbol_col not in adata.var.columns:
            raise InputError(f"--symbol-col {symbol_col!r} is not a column of var; the columns are "
                             f"{list(adata.var.columns)}.")
        return pd.Index(adata.var[symbol_col].astype(str))
    if ORIGINAL_SYMBOL_COL in adata.var.columns:
        return pd.Index(adata.var[ORIGINAL_SYMBOL_COL].astype(str))
    names = pd.Index(adata.var_names.astype(str))
    n_ens = sum(bool(ENSEMBL_RE.match(v)) for v in names[:500])
    if n_ens > 0.5 * min(500, len(names)):
        for col in SYMBOL_COLUMNS:
            if col in adata.var.columns:
                vals = adata.var[col].astype(str)
                if sum(bool(ENSEMBL_RE.match(v)) for v in vals[:500]) < 0.5 * min(500, len(vals)):
                    log.info("var index holds Ensembl IDs: using gene symbols from var[%r]", col)
                    return pd.Index(vals)
        log.warning("var index holds Ensembl IDs and no symbol column was found (tried %s); pass "
                    "--symbol-col", ", ".join(SYMBOL_COLUMNS))
    return names


def counts_layer(adata, layer: str | None = None) -> str | None:
    """The layer that holds the raw counts: ``layer`` when given, else ``'counts'`` when present (where
    nf-core/scrnaseq's h5ad, scanpy users and `liverannot normalize` keep them), else None for X."""
    if layer is None and "counts" in adata.layers:
        return "counts"
    return layer


def get_matrix(adata, layer: str | None = None):
    if layer:
        if layer not in adata.layers:
            raise InputError(f"layer {layer!r} not found; layers present: {list(adata.layers) or 'none'}.")
        return adata.layers[layer]
    return adata.X


# --------------------------------------------------------------------------------------------
# atomic outputs
# --------------------------------------------------------------------------------------------

def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    pa, pb = Path(a), Path(b)
    try:
        if pa.exists() and pb.exists():
            return os.path.samefile(pa, pb)
    except OSError:
        pass
    return pa.resolve() == pb.resolve()


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None):
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix or ".tmp",
                               dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


#: environment variable naming the h5ad compression: unset or "none" (anndata's default), "counts" (the
#: raw-counts layer alone, gzip level 1 with byte shuffling: small integers shrink ~5 times, the log
#: values stay uncompressed), "gzip" (everything, level 1; readable by every HDF5 reader, R's too) or
#: "gzip:N" for level N
H5AD_COMPRESSION_ENV = "LIVERANNOT_H5AD_COMPRESSION"


def h5ad_compression() -> tuple[str | None, int | None]:
    value = os.environ.get(H5AD_COMPRESSION_ENV, "").strip().lower()
    if value in ("", "none", "no", "0"):
        return None, None
    if value == "counts":
        return "counts", 1
    name, _, level = value.partition(":")
    if name != "gzip" or (level and not (level.isdigit() and 1 <= int(level) <= 9)):
        raise InputError(f"{H5AD_COMPRESSION_ENV}={value!r}: use none, counts, gzip or gzip:1..9.")
    return "gzip", int(level) if level else 1


def write_h5ad(adata, path: str | os.PathLike) -> None:
    """Write an h5ad atomically (never a half-written file at ``path``), uncompressed unless
    $LIVERANNOT_H5AD_COMPRESSION says otherwise: gzip costs a 100k-cell sample ~40 s of a
    ~5 s write (its counts and log values, ~3 GB uncompressed, shrink ~3 times); ``counts``
    compresses the raw counts alone (a 5,000-cell sample: 158 -> 99 MB for ~0.5 s more), the
    pipeline's default (nextflow.config)."""
    import warnings

    compression, level = h5ad_compression()
    with atomic_path(path, ".h5ad") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if compression == "counts" and "counts" in adata.layers:
            import h5py
            from anndata.io import write_elem

            counts = adata.layers.pop("counts")
            try:
                adata.write_h5ad(tmp)
                with h5py.File(tmp, "a") as f:
                    write_elem(f["layers"], "counts", counts,
                               dataset_kwargs={"compression": "gzip", "compression_opts": level, "shuffle": True})
            finally:
                adata.layers["counts"] = counts
        else:
            adata.write_h5ad(tmp, compression=None if compression == "counts" else compression,
                             compression_opts=None if compression == "counts" else level)


def write_table(df: pd.DataFrame, path: str | os.PathLike, **kwargs) -> None:
    path = Path(path)
    sep = "\t" if path.suffix in (".tsv", ".txt") else ","
    with atomic_path(path) as tmp:
        df.to_csv(tmp, sep=sep, **kwargs)


def write_text(text: str, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)
