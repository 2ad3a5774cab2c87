#!/usr/bin/env python
"""Cell types a model never learnt: leave one lineage out, classify its real cells.

    python benchmarks/unknown_types.py                       # both species, every recipe, both kinds
    python benchmarks/unknown_types.py --species mouse --lineages b_plasma,hepatocyte --kinds nn

For every lineage of the development sets' real cells, a model is trained without that lineage's
classes (every column of them, other atlases' included), then classifies the real cells of that
lineage (../shared/data/real_cells: the liver set and the other tissues). A model that knows it does
not know answers Unassigned (or calls with low confidence); a model that does not calls them as some
class it learnt, confidently. Training recipes:

- ``shipped``: the shipped models' reference (the species' atlas, a second atlas where a model's
  settings ask for one, the marker-built classes, the Non-liver profiles) and settings
  (``train_cli.shipped_settings``), the forests without their search;
- ``multi_atlas``: the shipped recipe with the species' other atlases (``data/atlas_classes.tsv``);
- ``custom``: what ``liverannot train --profiles`` makes of a user's annotated reference: the
  species' atlas profiles alone, default settings, no Non-liver class.

Writes benchmarks/out/unknown_types.csv and prints a markdown table: per held-out lineage the cells,
their share Unassigned, the share called with confidence >= 0.9 (a confident wrong answer: the
lineage was never learnt) and the most frequent call.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def without_lineage(ref, lineages: dict[str, str], held: str):
    """``ref`` without the columns of ``held``'s classes (a class's columns of every atlas)."""
    from liverannot.reference import NONLIVER_PREFIX, Reference, training_class

    keep = [c for c in ref.classes if c.startswith(NONLIVER_PREFIX) or lineages[training_class(c)] != held]
    return Reference(ref.species, ref.profiles[keep], ref.source + f" without {held}")


def real_cells(species: str):
    """The development sets' real cells of liver lineages (the harness's query cells without the
    non-liver ones), with their expected lineage and dataset."""
    from run import query_cells

    q = query_cells(species)
    return q[q.obs["expected_lineage"] != "unassigned"].copy()


def recipe(name: str, species: str, kind: str, root: Path):
    """(reference, settings, search) of a training recipe."""
    from liverannot.reference import Reference
    from liverannot.train_cli import SHIPPED_PROFILES, shipped_reference, shipped_settings

    if name == "shipped":
        settings = shipped_settings(species, kind)
        settings.pop("search", None)
        return shipped_reference(root, species, second_atlas=settings.pop("second_atlas", False)), settings, False
    if name == "multi_atlas":
        settings = shipped_settings(species, kind)
        settings.pop("search", None)
        return shipped_reference(root, species, second_atlas=settings.pop("second_atlas", False),
                                 multi_atlas=True), settings, False
    if name == "custom":
        return Reference.from_table(root / "profiles" / SHIPPED_PROFILES[species], species), {}, False
    raise ValueError(name)


def run(species_list, recipes, kinds, lineages_wanted, n_per_class: int | None) -> pd.DataFrame:
    from liverannot.classifier import classify
    from liverannot.evaluate import shared_data_dir
    from liverannot.reference import lineage_map
    from liverannot.train import train_model

    root = shared_data_dir()
    if root is None:
        sys.exit("../shared/data not found (or set LIVERANNOT_SHARED_DATA)")
    rows = []
    for species in species_list:
        lin = lineage_map(species)
        cells = real_cells(species)
        present = [ln for ln in dict.fromkeys(cells.obs["expected_lineage"]) if (cells.obs["expected_lineage"] == ln).sum() >= 5]
        for held in [ln for ln in present if not lineages_wanted or ln in lineages_wanted]:
            q = cells[cells.obs["expected_lineage"] == held].copy()
            for rec in recipes:
                for kind in kinds:
                    ref, settings, search = recipe(rec, species, kind, root)
                    sub = without_lineage(ref, lin, held)
                    if n_per_class:
                        settings.setdefault("simulation", {})["n_per_class"] = n_per_class
                    t0 = time.perf_counter()
                    model = train_model(sub, lin, kind, settings=settings, seed=0, search=search, quiet=True)
                    a = q.copy()
                    classify(a, model)
                    called = a.obs["liver_lineage"].astype(str).to_numpy()
                    conf = a.obs["liver_confidence"].to_numpy(dtype=float)
                    ua = called == "unassigned"
                    top = pd.Series(a.obs["liver_best_celltype"].astype(str)).value_counts()
                    rows.append({"species": species, "recipe": rec, "kind": kind, "held_out": held, "cells": len(a),
                                 "unassigned": float(ua.mean()),
                                 "confident_wrong": float(((~ua) & (conf >= 0.9)).mean()),
                                 "median_confidence": float(np.median(conf)),
                                 "top_call": f"{top.index[0]} ({top.iloc[0]})",
                                 "reasons": ", ".join(f"{k} {v}" for k, v in
                                                      a.obs.loc[ua, "liver_unassigned_reason"].astype(str).value_counts().items()),
                                 "seconds": round(time.perf_counter() - t0, 1)})
                    log(" ".join(f"{k}={v}" for k, v in rows[-1].items()))
    return pd.DataFrame(rows)


def markdown(df: pd.DataFrame) -> str:
    cols = ["species", "recipe", "kind", "held_out", "cells", "unassigned", "confident_wrong", "median_confidence",
            "top_call", "reasons"]
    out = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    for r in df[cols].itertuples(index=False):
        out.append("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in r) + " |")
    summary = df.groupby(["species", "recipe", "kind"]).apply(
        lambda d: pd.Series({"cells": d["cells"].sum(), "unassigned": np.average(d["unassigned"], weights=d["cells"]),
                             "confident_wrong": np.average(d["confident_wrong"], weights=d["cells"])}),
        include_groups=False).reset_index()
    out += ["", "Over all held-out lineages (cell-weighted):", "",
            "| species | recipe | kind | cells | unassigned | confident_wrong |", "| --- | --- | --- | --- | --- | --- |"]
    for r in summary.itertuples(index=False):
        out.append(f"| {r.species} | {r.recipe} | {r.kind} | {int(r.cells)} | {r.unassigned:.3f} | {r.confident_wrong:.3f} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--species", default="human,mouse")
    ap.add_argument("--recipes", default="shipped,custom")
    ap.add_argument("--kinds", default="nn,rf")
    ap.add_argument("--lineages", default="", help="held-out lineages (default: every lineage with >= 5 real cells)")
    ap.add_argument("--n-per-class", type=int, default=None, help="simulated cells per class (default: the recipe's)")
    ap.add_argument("--out", default=str(OUT / "unknown_types.csv"))
    ap.add_argument("--markdown", help="also write the table, with what was run, to this file "
                    "(benchmarks/UNKNOWN_TYPES.md)")
    ap.add_argument("--from-csv", help="rewrite the markdown from this CSV instead of running")
    args = ap.parse_args()
    if args.from_csv:
        df = pd.read_csv(args.from_csv, keep_default_na=False)
    else:
        df = run(args.species.split(","), args.recipes.split(","), args.kinds.split(","),
                 [x for x in args.lineages.split(",") if x], args.n_per_class)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(args.out, index=False)
    table = markdown(df)
    print(table)
    if args.markdown:
        head = __doc__.split("\n\n", 2)[2].strip()
        n = f" with {args.n_per_class} simulated cells per class" if args.n_per_class else ""
        Path(args.markdown).write_text(f"# Unknown cell types: leave one lineage out\n\nProduced by "
                                       f"`python benchmarks/unknown_types.py --markdown benchmarks/UNKNOWN_TYPES.md"
                                       f"{' --n-per-class ' + str(args.n_per_class) if args.n_per_class else ''}`"
                                       f" (models trained{n}).\n\n{head}\n\n{table}\n")


if __name__ == "__main__":
    main()
