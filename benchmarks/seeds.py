#!/usr/bin/env python
"""One recipe, several training seeds: how much of a modelling change's effect is the seed's.

    python benchmarks/seeds.py --species mouse --kinds nn --seeds 0,1,2,3
    python benchmarks/seeds.py --species mouse --kinds nn --seeds 0,1 --second-atlas \
        --set 'module_selection={"n_class": 0, "n_lineage": 0}'

Trains the shipped recipe (``train_cli.shipped_reference`` and ``shipped_settings``, with ``--set``
overrides merged in as the shipped settings are) at every seed and evaluates each model as ``liverannot
train --all`` does (``train_cli.evaluate_model``): the liver development set, with 30% of the genes,
the other tissues' liver cell types, the non-liver cells Unassigned and the other species' liver cells.
Prints one row per seed and the mean and range per metric; writes benchmarks/out/seeds.csv.

The development sets are small (one mouse cell is 2 points, one non-liver cell 1.25): a change is
worth its name when it moves a metric beyond the spread of the seeds, in the same direction at every
seed.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"

METRICS = ("dev", "dev_30pct_genes", "dev_30pct_genes_only", "other_tissues", "nonliver_unassigned", "cross_species")


def run(species: str, kind: str, seeds, second_atlas: bool, overrides: dict, n_per_class: int | None,
        multi_atlas: bool = False) -> pd.DataFrame:
    from liverannot.evaluate import shared_data_dir
    from liverannot.reference import Reference, lineage_map
    from liverannot.train import train_model
    from liverannot.train_cli import (SHIPPED_PROFILES, evaluate_model, merge_settings, pop_reference_options,
                                      shipped_reference, shipped_settings)

    root = shared_data_dir()
    if root is None:
        sys.exit("../shared/data not found (or set LIVERANNOT_SHARED_DATA)")
    settings = merge_settings(shipped_settings(species, kind), overrides)
    search = bool(settings.pop("search", True))
    options = pop_reference_options(settings)
    options["second_atlas"] |= second_atlas
    options["multi_atlas"] |= multi_atlas
    second, multi = options["second_atlas"], options["multi_atlas"]
    if n_per_class:
        settings.setdefault("simulation", {})["n_per_class"] = n_per_class
    ref = shipped_reference(root, species, **options)
    liver_ref = Reference.from_table(root / "profiles" / SHIPPED_PROFILES[species], species)
    lin = lineage_map(species)
    rows = []
    for seed in seeds:
        t0 = time.perf_counter()
        model = train_model(ref, lin, kind, settings=settings, seed=seed, search=search, quiet=True)
        m = evaluate_model(model, liver_ref, lin)
        liver, ot, cs = m.get("liver", {}), m.get("other_tissues", {}), m.get("cross_species", {})
        rows.append({"species": species, "kind": kind, "second_atlas": second, "multi_atlas": multi, "seed": seed,
                     "dev": liver.get("lineage_accuracy"), "dev_30pct_genes": liver.get("lineage_accuracy_30pct_genes"),
                     "dev_30pct_genes_only": liver.get("lineage_accuracy_30pct_genes_only"),
                     "other_tissues": ot.get("lineage_accuracy"), "nonliver_unassigned": ot.get("unassigned_rate_nonliver"),
                     "cross_species": cs.get("lineage_accuracy"), "seconds": round(time.perf_counter() - t0, 1)})
        print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in rows[-1].items()),
              file=sys.stderr, flush=True)
    return pd.DataFrame(rows)


def markdown(df: pd.DataFrame) -> str:
    cols = ["species", "kind", "second_atlas", "multi_atlas", "seed", *METRICS]
    fmt = lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    out = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    out += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in df[cols].itertuples(index=False)]
    for (sp, kind, second, multi), d in df.groupby(["species", "kind", "second_atlas", "multi_atlas"]):
        stats = [f"{m} {d[m].mean():.3f} ({d[m].min():.3f}-{d[m].max():.3f})" for m in METRICS if d[m].notna().any()]
        out += ["", f"{sp} {kind}{' + second atlas' if second else ''}{' + multi-atlas' if multi else ''}, {len(d)} seeds, mean (range): " + "; ".join(stats)]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--species", default="mouse", choices=["human", "mouse"])
    ap.add_argument("--kinds", default="nn,rf")
    ap.add_argument("--seeds", default="0,1,2,3")
    ap.add_argument("--second-atlas", action="store_true", help="train with the other species' atlas too "
                    "(train_cli.SECOND_ATLAS)")
    ap.add_argument("--multi-atlas", action="store_true", help="train with the species' other atlases too "
                    "(data/atlas_classes.tsv)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                    help="override a shipped setting, e.g. 'nonliver_share=8' or 'simulation={\"batch_sd\": 0.8}'")
    ap.add_argument("--n-per-class", type=int, default=None, help="simulated cells per class (default: the recipe's)")
    ap.add_argument("--out", default=str(OUT / "seeds.csv"))
    args = ap.parse_args()
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            sys.exit(f"--set {item!r}: the value must be JSON: a number, true or false, a \"string\" or an object")
    seeds = [int(s) for s in args.seeds.split(",") if s]
    df = pd.concat([run(args.species, k, seeds, args.second_atlas, overrides, args.n_per_class, args.multi_atlas)
                    for k in args.kinds.split(",")], ignore_index=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, index=False)
    print(markdown(df))


if __name__ == "__main__":
    main()
