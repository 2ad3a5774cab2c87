"""Plots of the calls (``la.pl``): the report's figures, for notebooks too.

Each function returns a matplotlib Figure made without pyplot (so it works under any backend and a
notebook shows it once); pass ``ax`` to draw into an axes of your own instead. The pipeline's
report saves the same figures as PNG.
"""

from __future__ import annotations

import colorsys

import numpy as np
import pandas as pd

from .errors import LiverannotError

UNASSIGNED_COLOR = (0.78, 0.78, 0.78, 1.0)


def category_colors(categories) -> dict[str, tuple]:
    """A distinct colour for every category: matplotlib's tab20, then tab20b and tab20c (54 colours
    without their greys), then hues spaced by the golden angle; `Unassigned` is light grey, the
    colour of no call, which no other category gets."""
    from matplotlib import colormaps

    palette = [colormaps[name](i) for name in ("tab20", "tab20b", "tab20c") for i in range(20)]
    palette = [c for c in palette if max(c[:3]) - min(c[:3]) > 0.1]   # no greys: grey means Unassigned
    cats = [str(c) for c in categories]
    named = [c for c in cats if c != "Unassigned"]
    out = {}
    for i, c in enumerate(named):
        if i < len(palette):
            out[c] = palette[i]
        else:
            h = (i * 0.618033988749895) % 1.0
            out[c] = (*colorsys.hsv_to_rgb(h, 0.65 + 0.35 * ((i // 7) % 2), 0.55 + 0.4 * ((i // 3) % 2)), 1.0)
    if "Unassigned" in cats:
        out["Unassigned"] = UNASSIGNED_COLOR
    return out


def _colors_in_vocabulary_order(categories, vocabulary) -> dict[str, tuple]:
    """:func:`category_colors` of ``categories``, each taking the colour of its place in
    ``vocabulary`` (those outside it after, alphabetically), so that its colour does not depend on
    which other categories are present."""
    cats = [str(c) for c in categories]
    known = set(vocabulary)
    colors = category_colors(list(vocabulary) + sorted({c for c in cats if c not in known}))
    return {c: colors[c] for c in cats}


def celltype_colors(categories) -> dict[str, tuple]:
    """The colour of each cell type, the same in every sample, plot and report: a type's colour comes
    from its place in the shipped vocabulary (``data/lineage_map.tsv``: the human classes, then the
    mouse ones), not from which types a sample happens to hold. Types outside it (a custom model's)
    take the colours after the vocabulary's; `Unassigned` is grey."""
    from .reference import celltype_vocabulary

    return _colors_in_vocabulary_order(categories, celltype_vocabulary())


def lineage_colors(categories) -> dict[str, tuple]:
    """The colour of each lineage, by its place in the lineage vocabulary (``data/lineages.json``)."""
    from .reference import lineage_vocabulary, unassigned_label

    vocabulary = [unassigned_label() if v == "unassigned" else v for v in lineage_vocabulary()]
    return _colors_in_vocabulary_order(categories, vocabulary)


def _order(cats) -> list[str]:
    """Clusters by number, names alphabetically, Unassigned last."""
    return sorted({str(c) for c in cats}, key=lambda c: (c == "Unassigned", int(c) if c.isdigit() else 0, c))


def _figure(ax, nrows: int = 1, ncols: int = 1, figsize=(6, 4)):
    """(figure, axes): ``ax``'s figure when given, else a new pyplot-free figure."""
    if ax is not None:
        return ax.figure, np.atleast_1d(ax)
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, np.atleast_1d(fig.subplots(nrows, ncols))


def _tight(fig) -> None:
    """``fig.tight_layout()``'s margins, applied without leaving a layout engine on the figure:
    with one set (tight_layout leaves a placeholder), savefig lays out and draws every text of the
    figure once more before the real draw (~0.25 s of a sample's four PNGs; the same image)."""
    from matplotlib.layout_engine import TightLayoutEngine

    TightLayoutEngine().execute(fig)


def _need(adata, key: str):
    if f"{key}_celltype" not in adata.obs:
        raise LiverannotError(f"no per-cell calls in obs ({key}_celltype): run la.classify(adata) first "
                              f"(or pass the key= used there).")


def _scatter_by(ax, xy, labels, title, *, label_on_plot: bool = False, colors: dict | None = None):
    labels = pd.Series(labels).astype(str)
    cats = _order(pd.unique(labels))
    colors = colors or category_colors(cats)
    # one marker line per category (scatter's look: marker area 4 or 1 points^2): matplotlib draws a
    # line's markers from one stamp, which is faster to draw and save than a collection of paths
    size = 2.0 if len(xy) < 20000 else 1.0
    for c in cats:
        m = (labels == c).to_numpy()
        ax.plot(xy[m, 0], xy[m, 1], linestyle="none", marker="o", markersize=size, markeredgewidth=0,
                color=colors[c], label=f"{c} ({m.sum()})", rasterized=True)
        if label_on_plot and m.any():   # the label at the category's median position
            x, y = np.median(xy[m], axis=0)
            ax.text(x, y, c, fontsize=8, weight="bold", ha="center", va="center",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.7})
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=6, markerscale=3, loc="center left", bbox_to_anchor=(1, 0.5), frameon=False,
              ncol=2 if len(cats) > 30 else 1)


def _scatter_continuous(ax, xy, values, title, *, cmap: str = "viridis", vmin=None, vmax=None, label=None):
    """Cells coloured by a number; cells without one (NaN) in light grey beneath."""
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    size = 4 if len(xy) < 20000 else 1
    ax.scatter(xy[~ok, 0], xy[~ok, 1], s=size, color=UNASSIGNED_COLOR, rasterized=True, linewidths=0)
    sc = ax.scatter(xy[ok, 0], xy[ok, 1], s=size, c=v[ok], cmap=cmap, vmin=vmin, vmax=vmax, rasterized=True,
                    linewidths=0)
    ax.figure.colorbar(sc, ax=ax, shrink=0.7, label=label)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])


def umap(adata, color=None, *, key: str = "liver", groupby: str = "leiden", title: str | None = None,
         basis: str = "X_umap"):
    """UMAP panels coloured by obs columns: by default the clusters (``groupby``, labelled on the
    plot), the cluster annotation and the per-cell call, with one colour per cell type across panels.
    ``color``: an obs column or a list of them instead. ``title`` prefixes each panel's title."""
    if basis not in adata.obsm:
        raise LiverannotError(f"no {basis} in obsm: run la.pp.cluster(adata) (or scanpy's sc.tl.umap) first.")
    ann = f"{key}_cluster_annotation"
    if color is None:
        _need(adata, key)
        color = [c for c in (groupby, ann, f"{key}_celltype") if c in adata.obs]
    color = [color] if isinstance(color, str) else list(color)
    missing = [c for c in color if c not in adata.obs]
    if missing:
        raise LiverannotError(f"not in obs: {', '.join(missing)} (columns: {', '.join(map(str, adata.obs.columns))}).")
    names = {groupby: "clusters", ann: "cluster annotation", f"{key}_celltype": "per-cell call"}
    # one colour per cell type in every panel that shows cell types
    type_cols = [c for c in color if c in (ann, f"{key}_celltype")]
    types = set().union(*(set(adata.obs[c].astype(str)) for c in type_cols)) if type_cols else set()
    type_colors = celltype_colors(_order(types)) if types else None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7 * len(color), 6))
    axes = np.atleast_1d(fig.subplots(1, len(color)))
    xy = np.asarray(adata.obsm[basis])
    for ax, c in zip(axes, color):
        label = names.get(c, c)
        col = adata.obs[c]
        heading = f"{title}: {label}" if title else label
        if pd.api.types.is_float_dtype(col.dtype):   # a number per cell (zonation, confidence): a colour scale
            zon = c.endswith("_zonation")
            _scatter_continuous(ax, xy, col.to_numpy(), heading, cmap="plasma" if zon else "viridis",
                                vmin=0 if zon else None, vmax=1 if zon else None,
                                label="0 pericentral ... 1 periportal" if zon else c)
        else:
            _scatter_by(ax, xy, col, heading, label_on_plot=(c == groupby),
                        colors=type_colors if c in type_cols else None)
    _tight(fig)
    return fig


def composition(adata, *, key: str = "liver", title: str | None = None):
    """Cells per lineage and per cell type (horizontal bars, most frequent first)."""
    _need(adata, key)
    fig, axes = _figure(None, 1, 2, figsize=(13, 4.5))
    comp = adata.obs[f"{key}_lineage"].value_counts()
    comp = comp[comp > 0]
    axes[0].barh(comp.index.astype(str), comp.to_numpy(), color="#4C72B0")
    axes[0].invert_yaxis()
    axes[0].set_xlabel("cells")
    axes[0].set_title(f"{title}: lineage composition" if title else "lineage composition")
    ct = adata.obs[f"{key}_celltype"].value_counts()
    ct = ct[ct > 0]
    axes[1].barh(ct.index.astype(str), ct.to_numpy(), color="#55A868")
    axes[1].invert_yaxis()
    axes[1].set_xlabel("cells")
    axes[1].set_title("cell types")
    axes[1].tick_params(axis="y", labelsize=7)
    _tight(fig)
    return fig


def confidence(adata, *, key: str = "liver", title: str | None = None, ax=None):
    """Histogram of the per-cell confidence, with the Unassigned threshold."""
    _need(adata, key)
    fig, (ax,) = _figure(ax)
    conf = adata.obs[f"{key}_confidence"].to_numpy()
    ax.hist(conf, bins=40, range=(0, 1), color="#8172B2")
    thr = adata.uns.get(f"{key}_classify", {}).get("min_confidence")
    if thr is not None:
        ax.axvline(thr, color="red", linestyle="--", label=f"Unassigned below {thr:.2f}")
        ax.legend()
    ax.set_xlabel("confidence")
    ax.set_ylabel("cells")
    ax.set_title(f"{title}: confidence of the per-cell calls" if title else "confidence of the per-cell calls")
    _tight(fig)
    return fig


def zonation(adata, *, key: str = "liver", title: str | None = None):
    """Hepatocytes per lobule layer (1 pericentral ... 9 periportal), and the UMAP coloured by the
    zonation (when the sample has one; other cells grey)."""
    col = f"{key}_zonation"
    if col not in adata.obs:
        raise LiverannotError(f"no zonation in obs ({col}): run la.zonation(adata) (or la.classify) first.")
    from matplotlib import colormaps

    has_umap = "X_umap" in adata.obsm
    fig, axes = _figure(None, 1, 2 if has_umap else 1, figsize=(13 if has_umap else 6, 4.5))
    layer = adata.obs[f"{col}_layer"].to_numpy()
    counts = [int((layer == i).sum()) for i in range(1, 10)]
    cmap = colormaps["plasma"]
    axes[0].bar(range(1, 10), counts, color=[cmap(i / 8) for i in range(9)])
    axes[0].set_xticks(range(1, 10))
    axes[0].set_xlabel("lobule layer (1 pericentral ... 9 periportal)")
    axes[0].set_ylabel("hepatocytes")
    n = int(np.isfinite(adata.obs[col].to_numpy(dtype=float)).sum())
    axes[0].set_title(f"{title}: zonation of {n:,} hepatocytes" if title else f"zonation of {n:,} hepatocytes")
    if has_umap:
        _scatter_continuous(axes[1], np.asarray(adata.obsm["X_umap"]), adata.obs[col].to_numpy(dtype=float),
                            f"{title}: hepatocyte zonation" if title else "hepatocyte zonation", cmap="plasma",
                            vmin=0, vmax=1, label="0 pericentral ... 1 periportal")
    _tight(fig)
    return fig
