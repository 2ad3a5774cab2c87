"""Reference profiles (per-class mean expression) and the vocabulary files beside them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError

MITO_RIBO_PREFIXES = ("MT-", "mt-", "RPL", "RPS", "Rpl", "Rps", "MRPL", "MRPS", "Mrpl", "Mrps")


def data_path(name: str) -> Path:
    return Path(str(resources.files("liverannot") / "data" / name))


@lru_cache(maxsize=None)
def lineage_vocabulary() -> tuple[str, ...]:
    return tuple(json.loads(data_path("lineages.json").read_text())["lineages"])


@lru_cache(maxsize=None)
def unassigned_label() -> str:
    return json.loads(data_path("lineages.json").read_text())["unassigned_label"]


@lru_cache(maxsize=None)
def _lineage_map_table() -> pd.DataFrame:
    return pd.read_csv(data_path("lineage_map.tsv"), sep="\t")


def celltype_vocabulary() -> tuple[str, ...]:
    """Every cell type of the shipped models, each once, in the order of ``lineage_map.tsv``."""
    return tuple(dict.fromkeys(_lineage_map_table()["class"]))


def lineage_map(species: str) -> dict[str, str]:
    df = _lineage_map_table()
    df = df[df["species"] == species]
    bad = set(df["lineage"]) - set(lineage_vocabulary())
    if bad:
        raise ValueError(f"lineage_map.tsv uses lineages outside the vocabulary: {bad}")
    return dict(zip(df["class"], df["lineage"]))


def eval_labels() -> pd.DataFrame:
    """Expected lineage of each cell type of the evaluation sets; an empty lineage is not scored
    (the ``note`` column says why)."""
    return pd.read_csv(data_path("eval_labels.tsv"), sep="\t", keep_default_na=False)


@dataclass
class Reference:
    """Mean expression (counts per cell) of each class: ``profiles`` is genes x classes."""

    species: str
    profiles: pd.DataFrame
    source: str = ""

    @property
    def classes(self) -> list[str]:
        """The reference columns (profiles); several columns may train one class (the Non-liver
        sub-profiles, a class's profile from another species' atlas: see :func:`training_class`)."""
        return list(self.profiles.columns)

    @property
    def liver_columns(self) -> list[str]:
        """The columns of liver classes (every source), the Non-liver sub-profiles left out."""
        return [c for c in self.classes if not c.startswith(NONLIVER_PREFIX)]

    @property
    def nonliver_columns(self) -> list[str]:
        """The Non-liver sub-profiles (every background)."""
        return [c for c in self.classes if c.startswith(NONLIVER_PREFIX)]

    @property
    def atlas_columns(self) -> list[str]:
        """The liver columns of the species' own reference (one per class, named as the class):
        those of other atlases (``Class|source``) and the Non-liver sub-profiles left out."""
        return [c for c in self.classes if SUBPROFILE_SEP not in c]

    @property
    def training_classes(self) -> list[str]:
        """The classes a model trained on this reference predicts, in order."""
        out: list[str] = []
        for c in self.classes:
            t = training_class(c)
            if t not in out:
                out.append(t)
        return out

    def class_profiles(self) -> pd.DataFrame:
        """Genes x training classes: the Non-liver sub-profiles averaged."""
        cols = {}
        for t in self.training_classes:
            members = [c for c in self.classes if training_class(c) == t]
            cols[t] = self.profiles[members].mean(axis=1)
        return pd.DataFrame(cols)

    @property
    def genes(self) -> list[str]:
        return list(self.profiles.index)

    def proportions(self, genes) -> np.ndarray:
        """Classes x genes matrix of expression proportions within ``genes`` (rows sum to 1)."""
        P = self.profiles.reindex(genes).fillna(0.0).to_numpy(dtype=np.float64).T
        P = P + 1e-9
        return P / P.sum(axis=1, keepdims=True)

    def _class_proportions(self, genes) -> np.ndarray:
        """Training classes x genes expression proportions within ``genes`` (rows sum to 1)."""
        P = self.class_profiles().reindex(genes).fillna(0.0).to_numpy(dtype=np.float64).T + 1e-9
        return P / P.sum(axis=1, keepdims=True)

    def log_profiles(self, genes) -> np.ndarray:
        """Training classes x genes log1p(CP10k within ``genes``): the feature space of the models."""
        return np.log1p(self._class_proportions(genes) * 1e4).astype(np.float32)

    def hepatocyte_mixtures(self, genes, lineages: dict[str, str], shares) -> tuple[np.ndarray, np.ndarray]:
        """Profiles of non-hepatocyte liver cells carrying hepatocyte RNA: for each such training
        class and each share a in ``shares``, log1p(CP10k within ``genes``) of (1 - a) x the class's
        profile + a x the mean hepatocyte profile. Returns (rows x genes float32, the training-class
        index of each row); empty when there is no hepatocyte class or no share."""
        classes = self.training_classes
        P = self._class_proportions(genes)
        lin = [lineages.get(c, "") for c in classes]
        hep = [i for i, ln in enumerate(lin) if ln == "hepatocyte"]
        others = [i for i, (c, ln) in enumerate(zip(classes, lin)) if ln and ln != "hepatocyte" and c != NONLIVER_CLASS]
        shares = [float(a) for a in shares if 0 < float(a) < 1]
        if not hep or not others or not shares:
            return np.zeros((0, len(P[0])), np.float32), np.zeros(0, int)
        h = P[hep].mean(axis=0)
        rows = [(1 - a) * P[i] + a * h for i in others for a in shares]
        idx = np.array([i for i in others for _ in shares], dtype=int)
        return np.log1p(np.array(rows) * 1e4).astype(np.float32), idx

    def depth(self) -> np.ndarray:
        return self.profiles.sum(axis=0).to_numpy()

    def save(self, path: Path) -> None:
        np.savez_compressed(path, genes=np.array(self.genes, dtype=str),
                            classes=np.array(self.classes, dtype=str),
                            values=self.profiles.to_numpy(np.float32), species=self.species,
                            source=self.source)

    @classmethod
    def load(cls, path: Path) -> "Reference":
        with np.load(path, allow_pickle=False) as z:
            df = pd.DataFrame(z["values"], index=z["genes"].tolist(), columns=z["classes"].tolist())
            return cls(str(z["species"]), df, str(z["source"]))

    @classmethod
    def from_table(cls, path: str | Path, species: str) -> "Reference":
        """Read a genes x classes table of mean counts per cell (TSV/CSV, gzipped or not)."""
        path = Path(path)
        if not path.exists():
            raise InputError(f"{path}: reference profile table not found.")
        sep = "," if ".csv" in path.name else "\t"
        df = pd.read_csv(path, sep=sep, index_col=0)
        df = df.groupby(level=0).sum()
        if (df.to_numpy() < 0).any():
            raise InputError(f"{path}: reference profiles must be non-negative mean counts.")
        return cls(species, df.astype(np.float64), str(path.name))


def select_genes(ref: Reference, lineages: dict[str, str], n_per_class: int = 60,
                 min_cp10k: float = 1.0) -> list[str]:
    """Choose the model's feature genes from the profiles: for each class the genes most specific
    to it against other classes and against other lineages (each column of the class, when other
    atlases add columns); mitochondrial and ribosomal genes excluded (technical, not cell-type)."""
    liver_cols = ref.liver_columns
    liver_ref = Reference(ref.species, ref.profiles[liver_cols])
    genes = pd.Index(liver_ref.profiles.index[liver_ref.profiles.sum(axis=1) > 0])
    ok = ~genes.str.startswith(MITO_RIBO_PREFIXES)
    genes = genes[ok]
    L = np.log1p(liver_ref.proportions(genes) * 1e4)  # classes x genes
    classes = liver_cols
    lin = np.array([lineages[training_class(c)] for c in classes])
    chosen: set[str] = set()
    for i, c in enumerate(classes):
        others = np.arange(len(classes)) != i
        other_lin = lin != lin[i]
        expressed = L[i] > np.log1p(min_cp10k)
        s_class = L[i] - L[others].max(axis=0)
        s_lin = L[i] - (L[other_lin].max(axis=0) if other_lin.any() else 0)
        for score in (s_class, s_lin):
            score = np.where(expressed, score, -np.inf)
            top = np.argsort(-score, kind="stable")[:n_per_class]
            chosen.update(genes[top][np.isfinite(score[top])])
    # plus the genes varying most across classes
    var = L.var(axis=0)
    chosen.update(genes[np.argsort(-var, kind="stable")[: 4 * n_per_class]])
    chosen.update(nonliver_marker_genes(ref))
    return sorted(chosen)


def module_genes(ref: Reference, lineages: dict[str, str], genes, n_class: int = 15,
                 n_lineage: int = 30, min_cp10k: float = 1.0,
                 max_hepatocyte_cp10k: float | None = None) -> dict[str, list[str]]:
    """Marker modules among ``genes``: for each liver class the genes most specific to it against the
    other classes, for each lineage the genes most specific to it against the other lineages, and
    the Non-liver marker genes. The models see each module's share of the cell's counts: a score that
    many genes back, so it survives platform biases and missing genes better than any one gene.

    ``max_hepatocyte_cp10k``: the modules of non-hepatocyte classes and lineages leave out genes that
    any hepatocyte profile expresses above this many counts per 10k (secretory genes that plasma
    cells share with hepatocytes, say). Hepatocyte RNA (ambient, or fragments carried by sorted
    immune cells) then adds next to nothing to those modules, so a B cell carrying mostly hepatocyte
    RNA keeps a clear B-cell score while a hepatocyte scores near zero."""
    liver_cols = ref.atlas_columns
    genes = pd.Index([g for g in genes if g in set(ref.genes)])
    L = np.log1p(Reference(ref.species, ref.profiles[liver_cols]).proportions(genes) * 1e4)  # classes x genes
    lin = np.array([lineages[c] for c in liver_cols])
    expressed = L > np.log1p(min_cp10k)
    hep = lin == "hepatocyte"
    hep_free = (L[hep].max(axis=0) <= np.log1p(max_hepatocyte_cp10k)
                if max_hepatocyte_cp10k is not None and hep.any() else np.ones(len(genes), bool))
    out: dict[str, list[str]] = {}

    def top(score, mask, n, hepatocyte=False):
        mask = mask if hepatocyte else mask & hep_free
        score = np.where(mask, score, -np.inf)
        idx = np.argsort(-score, kind="stable")[:n]
        return [genes[i] for i in idx if np.isfinite(score[i]) and score[i] > 0]

    for i, c in enumerate(liver_cols):
        others = np.arange(len(liver_cols)) != i
        out[f"class:{c}"] = top(L[i] - L[others].max(axis=0), expressed[i], n_class, hep[i])
    for ln in sorted(set(lin)):
        inside, outside = lin == ln, lin != ln
        if not outside.any():
            continue
        score = L[inside].mean(axis=0) - L[outside].max(axis=0)
        out[f"lineage:{ln}"] = top(score, expressed[inside].any(axis=0), n_lineage, ln == "hepatocyte")
    nl = [g for g in nonliver_marker_genes(ref) if g in set(genes)]
    if nl:
        out[f"class:{NONLIVER_CLASS}"] = nl
    return {k: v for k, v in out.items() if v}


def lineage_modules(ref: Reference, lineages: dict[str, str]) -> dict[str, list[str]]:
    """The lineage marker modules of :func:`module_genes` over all of ``ref``'s genes, by lineage name."""
    return {k.split(":", 1)[1]: v for k, v in module_genes(ref, lineages, ref.genes).items()
            if k.startswith("lineage:")}


def nonliver_marker_genes(ref: Reference) -> list[str]:
    """Genes that mark the marker-built Non-liver profiles (well above their housekeeping background)
    and that no liver class expresses (> 3 per 10k).

    The real organ-specific clusters of other atlases (:func:`add_atlas_profiles`) train the Non-liver
    class but do not add marker genes: a real cluster brings every gene its cells express, tissue-wide
    programmes too (kidney collecting-duct and ureteric cells express keratins, claudins and Spp1 as
    cholangiocytes do), and a human cholangiocyte read through orthologs then carried 12-17% of its
    counts in such "non-liver" genes and was Unassigned (measured: 8 of 10 of the human development
    set's cholangiocytes, mouse nn, multi-atlas recipe, seed 0)."""
    liver_cols = ref.atlas_columns  # the species' own atlas defines what liver cells express
    real = atlas_names()
    neg_cols = [c for c in ref.nonliver_columns if atlas_of(c) not in real]
    if not neg_cols:
        return []
    P = ref.profiles
    hk = P[liver_cols].median(axis=1) / P[liver_cols].sum(axis=0).median()
    liver_max = (P[liver_cols] / P[liver_cols].sum(axis=0) * 1e4).max(axis=1)
    out: set[str] = set()
    for c in neg_cols:
        frac = P[c] / P[c].sum()
        out.update(frac.index[(frac > 5 * hk + 1e-4) & (liver_max < 3)])
    return sorted(out)


# ------------------------------------------------------------------------------------------
# the "Non-liver" class: synthetic profiles of cell types that do not occur in liver
# ------------------------------------------------------------------------------------------

NONLIVER_CLASS = "Non-liver"
#: a column ``Class|source`` trains ``Class``: the Non-liver sub-profiles, and a class's profile from
#: another atlas (another species' cells through orthologs, :func:`add_ortholog_profiles`)
SUBPROFILE_SEP = "|"
NONLIVER_PREFIX = NONLIVER_CLASS + SUBPROFILE_SEP
#: PanglaoDB organs whose cell types do not occur in liver (immune, blood, vascular and connective
#: tissue types are shared with liver and are left out)
NONLIVER_ORGANS = ("Brain", "GI tract", "Kidney", "Reproductive", "Pancreas", "Lungs", "Skin", "Skeletal muscle",
                   "Olfactory system", "Heart", "Eye", "Mammary gland", "Adrenal glands", "Thyroid", "Oral cavity",
                   "Urinary bladder", "Parathyroid glands", "Placenta", "Epithelium")
#: cell types of those organs that a liver model must still call by their liver lineage
NONLIVER_EXCLUDE = ("macrophage", "microglia", "endothelial", "stellate", "mesangial", "fibroblast", "ductal",
                    "pericyte", "smooth muscle", "progenitor", "stem", "hepat", "cholang", "myofibroblast",
                    "erythro", "platelet", "megakaryocyte", "immune", "lymph", "mast", "dendritic", "plasma",
                    "epithelial cells", "mesothelial", "adipocyte", "kupffer")


def training_class(column: str) -> str:
    """The class a reference column trains: ``Class|source`` trains ``Class`` (every Non-liver
    sub-profile trains the Non-liver class)."""
    return column.split(SUBPROFILE_SEP, 1)[0]


def atlas_of(column: str) -> str:
    """Whose atlas a column comes from, or is drawn on: "" for the species' own reference,
    ``species`` for another species' profile of a class (``Class|species:source_class``) and for a
    Non-liver profile drawn on that atlas's background (``Non-liver|species:cell type``)."""
    if SUBPROFILE_SEP not in column:
        return ""
    rest = column.split(SUBPROFILE_SEP, 1)[1]
    return rest.split(":", 1)[0] if ":" in rest else ""


def mouse_symbol(human: str) -> str:
    return human[:1].upper() + human[1:].lower()


def add_nonliver_profiles(ref: Reference, markers_path: str | Path, *, seed: int = 0,
                          max_markers: int = 15, background_atlases=None) -> Reference:
    """A reference with one synthetic profile per non-liver cell type of PanglaoDB appended.

    Each profile is the liver classes' median (housekeeping) expression, shrunk to leave room for
    the cell type's markers, which get high expression (canonical markers highest). Markers
    expressed by any liver class (> 3 per 10k) are not used: they would not tell liver from
    non-liver. Genes new to the reference get a small floor in the liver classes.

    Each type is drawn on the species' own atlas background and on that of every other atlas among
    the liver columns, or of those in ``background_atlases`` (names as :func:`atlas_of` gives them).
    """
    sp_code = "Hs" if ref.species == "human" else "Mm"
    df = pd.read_csv(markers_path, sep="\t")
    df = df[df["species"].fillna("").str.contains(sp_code) & df["organ"].isin(NONLIVER_ORGANS)]
    low = df["cell type"].str.lower()
    df = df[~low.apply(lambda t: any(x in t for x in NONLIVER_EXCLUDE))]
    df = df[df["ubiquitousness index"].fillna(1) < 0.05]
    if ref.species == "mouse":
        df = df.assign(symbol=df["official gene symbol"].astype(str).map(mouse_symbol))
    else:
        df = df.assign(symbol=df["official gene symbol"].astype(str))
    P = ref.profiles
    # the species' own atlas defines liver expression and the housekeeping background: another
    # atlas's profiles (deeper, another platform's ambient RNA) would veto markers no liver cell of
    # this species expresses
    cp = P[ref.atlas_columns] / P[ref.atlas_columns].sum(axis=0) * 1e4
    liver_max = cp.max(axis=1)
    expressed_in_liver = set(liver_max.index[liver_max > 3])
    df = df[~df["symbol"].isin(expressed_in_liver)]
    sens = "sensitivity_human" if ref.species == "human" else "sensitivity_mouse"
    df = df.assign(score=df["canonical marker"].fillna(0) * 2 + df[sens].fillna(0))
    rng = np.random.default_rng(seed)
    # one background per atlas: the housekeeping expression of its liver columns. A Non-liver type
    # drawn on the species' atlas background alone would let a model learn "another atlas's
    # background means liver", and call the query's non-liver cells by the other atlas's classes
    backgrounds = {"": cp.median(axis=1)}
    others = {atlas_of(c) for c in ref.liver_columns} - {""}
    if background_atlases is not None:
        others &= set(background_atlases)
    for atlas in sorted(others):
        own = [c for c in ref.liver_columns if atlas_of(c) == atlas]
        backgrounds[atlas] = (P[own] / P[own].sum(axis=0) * 1e4).median(axis=1)
    new_genes = sorted(set(df["symbol"]) - set(P.index))
    genes = list(P.index) + new_genes
    depth = float(np.median(P.sum(axis=0)))
    cols = {}
    for ctype, g in df.groupby("cell type"):
        g = g.sort_values("score", ascending=False).drop_duplicates("symbol").head(max_markers)
        if len(g) < 3:
            continue
        idx = pd.Index(genes).get_indexer(g["symbol"])
        canonical = g["canonical marker"].fillna(0).to_numpy() > 0
        levels = np.exp(np.where(canonical, rng.uniform(np.log(200), np.log(3000), len(g)),
                                 rng.uniform(np.log(10), np.log(300), len(g))))
        marker_mass = min(levels.sum() / 1e4, 0.6)
        for atlas, housekeeping in backgrounds.items():
            prof = housekeeping.reindex(genes).fillna(0.0).to_numpy().copy()
            prof *= (1 - marker_mass) / max(prof.sum() / 1e4, 1e-9)
            prof[idx] = levels / levels.sum() * marker_mass * 1e4
            cols[NONLIVER_PREFIX + (f"{atlas}:" if atlas else "") + str(ctype)] = prof / 1e4 * depth
    floor = pd.DataFrame(0.0, index=new_genes, columns=P.columns)
    if new_genes:
        # genes absent from the liver reference: rare, not absent, in real liver cells
        floor.loc[:, :] = (rng.uniform(0.01, 0.2, size=(len(new_genes), 1)) / 1e4) * P.sum(axis=0).to_numpy()[None, :]
    liver = pd.concat([P, floor])
    neg = pd.DataFrame(cols, index=genes)
    return Reference(ref.species, pd.concat([liver, neg], axis=1), ref.source + f" + {len(cols)} non-liver profiles (PanglaoDB)")


# ------------------------------------------------------------------------------------------
# liver cell types that the reference profiles lack, built from PanglaoDB markers
# ------------------------------------------------------------------------------------------

def marker_classes(species: str) -> pd.DataFrame:
    """The classes of ``data/marker_classes.tsv`` for ``species``: liver cell types missing from the
    reference profiles (e.g. plasmacytoid dendritic cells in MacParland 2018), each with the PanglaoDB
    cell type that supplies its markers and the lineages whose profiles supply its background."""
    df = pd.read_csv(data_path("marker_classes.tsv"), sep="\t")
    return df[df["species"] == species].reset_index(drop=True)


def add_marker_classes(ref: Reference, markers_path: str | Path, *, seed: int = 0, max_markers: int = 15,
                       min_sensitivity: float = 0.4) -> Reference:
    """A reference with one profile appended per class of :func:`marker_classes` that it lacks.

    The background is the median, over the ``base_lineages``, of each lineage's mean profile: genes
    every immune cell expresses stay, genes of one lineage only (T-cell receptor, immunoglobulins,
    complement) drop out. The cell type's PanglaoDB markers that the species' cells actually express
    (sensitivity >= ``min_sensitivity``) are set to the level of the background's top genes, scaled by
    sensitivity, so that the profile looks like the reference's own (same depth, same dynamic range).
    """
    todo = marker_classes(ref.species)
    todo = todo[~todo["class"].isin(ref.classes)]
    if todo.empty:
        return ref
    lin = lineage_map(ref.species)
    sp_code = "Hs" if ref.species == "human" else "Mm"
    sens_col = "sensitivity_human" if ref.species == "human" else "sensitivity_mouse"
    markers = pd.read_csv(markers_path, sep="\t")
    markers = markers[markers["species"].fillna("").str.contains(sp_code)]
    P = ref.profiles[ref.liver_columns]
    cp = P / P.sum(axis=0) * 1e4
    rng = np.random.default_rng(seed)
    added = {}
    for row in todo.rename(columns={"class": "name"}).itertuples(index=False):
        bases = [b.strip() for b in str(row.base_lineages).split(",")]
        means = [cp[[c for c in cp.columns if lin.get(c) == b]].mean(axis=1) for b in bases]
        means = [m for m in means if m.notna().all()]
        if not means:
            raise ValueError(f"marker class {row.name}: no reference class of lineages {bases}")
        background = pd.concat(means, axis=1).median(axis=1)
        m = markers[markers["cell type"] == row.panglaodb_cell_type].copy()
        m["symbol"] = m["official gene symbol"].astype(str).map(mouse_symbol if ref.species == "mouse" else str)
        m = m[(m[sens_col].fillna(0) >= min_sensitivity) & m["symbol"].isin(cp.index)]
        m = m.sort_values(sens_col, ascending=False).drop_duplicates("symbol").head(max_markers)
        if len(m) < 3:
            raise ValueError(f"marker class {row.name}: fewer than 3 PanglaoDB markers of "
                             f"{row.panglaodb_cell_type!r} are in the reference genes")
        top = float(np.quantile(background, 0.999))
        levels = top * m[sens_col].to_numpy() * rng.uniform(0.7, 1.4, len(m))
        prof = background.copy()
        prof[m["symbol"].to_numpy()] = np.maximum(prof[m["symbol"].to_numpy()].to_numpy(), levels)
        prof = prof / prof.sum()
        added[row.name] = prof * float(np.median(P.sum(axis=0)))
    new = pd.DataFrame(added, index=P.index)
    liver = pd.concat([P, new], axis=1)
    rest = ref.profiles[ref.nonliver_columns]
    return Reference(ref.species, pd.concat([liver, rest], axis=1),
                     ref.source + f" + {len(added)} marker-built classes (PanglaoDB: {', '.join(added)})")


# ------------------------------------------------------------------------------------------
# a second atlas: the other species' profiles through one-to-one orthologs
# ------------------------------------------------------------------------------------------

def cross_species_classes(species: str) -> pd.DataFrame:
    """The rows of ``data/cross_species_classes.tsv`` for ``species``: which class of the other
    species' atlas (``source_species``, ``source_class``) also trains each of its classes."""
    df = pd.read_csv(data_path("cross_species_classes.tsv"), sep="\t", comment="#")
    return df[df["species"] == species].reset_index(drop=True)


def add_ortholog_profiles(ref: Reference, other: Reference) -> Reference:
    """``ref`` with one more column per row of :func:`cross_species_classes`: the ``other`` species'
    profile of ``source_class`` with its genes translated through one-to-one orthologs (genes
    without one keep the class's own expression), at the depth of the class it trains, named
    ``Class|species:source``.
    :func:`add_nonliver_profiles` then draws every Non-liver type on this atlas's background too.

    Each lineage is then learnt from two independent atlases (other donors, platform and lab), so
    the model relies less on what one atlas's cells of a type happen to show; the simulation shares
    the class's cells between its columns (:func:`liverannot.train.simulate_training_set`)."""
    from .orthologs import ortholog_map

    rows = cross_species_classes(ref.species).rename(columns={"class": "target"})
    rows = rows[rows["source_species"] == other.species]
    if rows.empty:
        return ref
    missing = sorted(set(rows["target"]) - set(ref.atlas_columns)) + sorted(set(rows["source_class"]) - set(other.classes))
    if missing:
        raise ValueError(f"cross_species_classes.tsv names classes the references lack: {missing}")
    omap = ortholog_map(other.species, ref.species)
    src = other.profiles[list(dict.fromkeys(rows["source_class"]))]
    src = src[src.index.isin(omap.keys())]
    src = src.groupby(src.index.map(omap)).sum()
    shared = pd.Index(ref.genes).isin(src.index)
    src = src.reindex(ref.genes).fillna(0.0)
    cols = {}
    for r in rows.itertuples(index=False):
        own = ref.profiles[r.target]
        # the other atlas speaks for the genes with an ortholog; the others keep the class's own
        # expression. Zeros there (tried) left the non-liver cells of lung and kidney 0.63 Unassigned
        # instead of 0.89: the model learnt that those genes' absence means a liver class
        v = src[r.source_class] / src[r.source_class].sum() * own[shared].sum()
        cols[f"{r.target}{SUBPROFILE_SEP}{other.species}:{r.source_class}"] = v.where(shared, own)
    new = pd.DataFrame(cols, index=ref.genes)
    liver = ref.profiles[ref.liver_columns]
    rest = ref.profiles[ref.nonliver_columns]
    n_genes = int((src.sum(axis=1) > 0).sum())
    return Reference(ref.species, pd.concat([liver, new, rest], axis=1),
                     ref.source + f" + {len(cols)} {other.species} profiles through one-to-one orthologs "
                     f"({other.source}; {n_genes:,} of the {len(ref.genes):,} genes)")


# ------------------------------------------------------------------------------------------
# more atlases of the same species: other organs' and other platforms' profiles of the classes
# ------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _atlas_table() -> pd.DataFrame:
    return pd.read_csv(data_path("atlas_classes.tsv"), sep="\t", comment="#", keep_default_na=False)


def atlas_names() -> frozenset[str]:
    """The other atlases of ``data/atlas_classes.tsv`` (file stems), as :func:`atlas_of` names their
    columns."""
    return frozenset(_atlas_table()["atlas"])


def atlas_classes(species: str) -> pd.DataFrame:
    """The used rows of ``data/atlas_classes.tsv`` for ``species``: which liver class (or Non-liver)
    each cluster of another atlas of the species trains (rows with an empty class are left out)."""
    df = _atlas_table()
    return df[(df["species"] == species) & (df["class"] != "")].reset_index(drop=True)


#: ambient shares (:func:`ambient_shares`): the foreign genes used are those the soup has at least
#: this share of (1 per 10k: a gene the tissue's RNA barely holds says nothing about its share)
MIN_SOUP_SHARE = 1e-4
#: the low quantile of the foreign genes' cluster-to-soup ratios taken as the share (a foreign gene
#: the cluster really expresses, a programme lineages share, only raises its ratio)
AMBIENT_QUANTILE = 0.25
MAX_AMBIENT_SHARE = 0.5


def _soup(src: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """An atlas's clusters as relative profiles, and its soup: their mean (the tissue's RNA)."""
    cp = src / src.sum(axis=0)
    return cp, cp.mean(axis=1)


def ambient_shares(src: pd.DataFrame, clusters, lineages, modules: dict[str, list[str]]) -> pd.Series:
    """Each cluster's share of ambient RNA in an atlas (genes x clusters, any units), in the manner of
    SoupX: the soup is the atlas's mean relative profile over all its clusters (the tissue's RNA); the
    share is read off the genes a cluster should not express, the marker modules of the other
    lineages (``modules``: lineage -> genes, from the species' own liver atlas) that the soup holds
    (>= :data:`MIN_SOUP_SHARE`): the :data:`AMBIENT_QUANTILE` quantile of their ratio cluster / soup,
    at most :data:`MAX_AMBIENT_SHARE`. ``lineages``: each cluster's lineage, in the order of
    ``clusters``. On the atlases here: 0.01-0.03 for the sorted HCA immune census and the plate-based
    pancreas, 0.02-0.13 for Madissoon's 10x, up to 0.27 for Microwell-seq (MCA)."""
    cp, soup = _soup(src)
    out = {}
    for cluster, lineage in zip(clusters, lineages):
        foreign = sorted({g for ln, genes in modules.items() if ln != lineage for g in genes} & set(src.index))
        foreign = [g for g in foreign if soup[g] >= MIN_SOUP_SHARE]
        ratio = cp.loc[foreign, cluster] / soup[foreign]
        share = float(np.quantile(ratio, AMBIENT_QUANTILE)) if len(ratio) else 0.0
        out[cluster] = min(max(share, 0.0), MAX_AMBIENT_SHARE)
    return pd.Series(out, dtype=float)


def add_atlas_profiles(ref: Reference, profiles_dir: str | Path, atlases=None, *,
                       organ_ambient: bool = False, decontaminate: bool = False) -> Reference:
    """``ref`` with one more column per used row of :func:`atlas_classes` (for ``atlases``, file stems
    in ``profiles_dir``; default every atlas the table names): ``Class|atlas:cluster`` for a liver
    class, ``Non-liver|atlas:cluster`` for an organ-specific type.

    A cluster's profile speaks for the genes its atlas measured; the genes it lacks keep the class's
    own expression (for a Non-liver cluster: the median of the species' own liver classes), as in
    :func:`add_ortholog_profiles`: zeros there would teach the model that those genes' absence means
    the atlas's classes. Each column has the depth of the class it trains (profiles of different
    platforms are relative expression; the simulation draws each cell's depth).

    ``organ_ambient``: in an organ atlas with organ-specific (Non-liver) clusters, the genes that mark
    them (well above the liver's housekeeping level there, < 3 per 10k in every class of the species'
    own liver atlas) are treated as unmeasured in its liver-class clusters too, and keep the class's own
    expression: a kidney endothelial or immune cluster's tubule transcripts are mostly the organ's
    ambient RNA (the tissue's dominant cells), not the cell type's, and taught the model that tubule
    genes mean endothelium.

    ``decontaminate``: each liver-class cluster loses its estimated ambient RNA first
    (:func:`ambient_shares`: share rho of the atlas's soup; profile - rho x soup, floored at 0). It
    covers what ``organ_ambient`` does not: a spleen macrophage cluster's B-cell transcripts, a lung
    cluster's alveolar ones."""
    rows = atlas_classes(ref.species).rename(columns={"class": "target"})
    if atlases is not None:
        rows = rows[rows["atlas"].isin(list(atlases))]
    if rows.empty:
        return ref
    allowed = set(lineage_map(ref.species)) | {NONLIVER_CLASS}
    bad = sorted(set(rows["target"]) - allowed)
    if bad:
        raise ValueError(f"atlas_classes.tsv names classes the {ref.species} models do not have: {bad}")
    own = ref.profiles[ref.atlas_columns]
    own_cp = own / own.sum(axis=0)
    background = own_cp.median(axis=1)
    depth = float(np.median(own.sum(axis=0)))
    cols = {}
    if decontaminate:
        lin = lineage_map(ref.species)
        modules = lineage_modules(ref, lin)
    for atlas, g in rows.groupby("atlas", sort=False):
        path = Path(profiles_dir) / f"{atlas}_profiles.tsv.gz"
        if not path.exists():
            raise InputError(f"{path}: atlas named in atlas_classes.tsv not found.")
        src = Reference.from_table(path, ref.species).profiles
        missing = sorted(set(g["cluster"]) - set(src.columns))
        if missing:
            raise ValueError(f"atlas_classes.tsv names clusters {atlas} lacks: {missing}")
        liver_rows = g[g["target"] != NONLIVER_CLASS]
        if decontaminate and len(liver_rows):
            rho = ambient_shares(src, liver_rows["cluster"], [lin[t] for t in liver_rows["target"]], modules)
            cp, soup = _soup(src)
            src = src.astype(float).copy()
            for cluster, share in rho.items():
                src[cluster] = (cp[cluster] - share * soup).clip(lower=0.0)
        shared = pd.Index(ref.genes).isin(src.index)
        src = src.reindex(ref.genes).fillna(0.0)
        organ = np.zeros(len(ref.genes), bool)
        nl_clusters = list(g.loc[g["target"] == NONLIVER_CLASS, "cluster"])
        if organ_ambient and nl_clusters:
            nl_max = (src[nl_clusters] / src[nl_clusters].sum(axis=0) * 1e4).max(axis=1)
            organ = ((nl_max > np.maximum(5 * background * 1e4, 1.0)) & ((own_cp * 1e4).max(axis=1) < 3)).to_numpy()
        for r in g.itertuples(index=False):
            if r.target == NONLIVER_CLASS:
                base, scale, measured = background * depth, depth, shared
            else:
                members = [c for c in ref.atlas_columns if training_class(c) == r.target]
                base = own[members].mean(axis=1) if members else background * depth
                scale, measured = float(base.sum()), shared & ~organ
            v = src[r.cluster].where(measured, 0.0)
            share = float(base[measured].sum()) / max(float(base.sum()), 1e-12)
            v = v / max(float(v.sum()), 1e-12) * share * scale
            cols[f"{r.target}{SUBPROFILE_SEP}{atlas}:{r.cluster}"] = v.where(measured, base)
    new = pd.DataFrame(cols, index=ref.genes)
    liver_new = new[[c for c in new.columns if not c.startswith(NONLIVER_PREFIX)]]
    neg_new = new[[c for c in new.columns if c.startswith(NONLIVER_PREFIX)]]
    liver = ref.profiles[ref.liver_columns]
    rest = ref.profiles[ref.nonliver_columns]
    n_atlases = rows["atlas"].nunique()
    return Reference(ref.species, pd.concat([liver, liver_new, rest, neg_new], axis=1),
                     ref.source + f" + {len(liver_new.columns)} liver-class and {len(neg_new.columns)} "
                     f"non-liver cluster profiles of {n_atlases} more {ref.species} atlases")
