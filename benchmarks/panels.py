#!/usr/bin/env python
"""Gene panels: the shipped models on development cells that measure only a few genes (issue #32, 3).

    python benchmarks/panels.py               # every species, kind, panel size and seed; then MODELS.md
    python benchmarks/panels.py --markdown    # benchmarks/MODELS.md from benchmarks/tables/panels.csv

A study that shares few genes with the reference (a targeted panel, an old array, a filtered matrix)
gets a model refit on the genes it has (liverannot.classifier.match_genes, ``refit_below``). Here each
development set keeps only a random panel of 700, 1,000 or 2,000 of the genes it shares with the
model's reference (three panel seeds), and the shipped nn and rf classify it: lineage accuracy of the
best liver call (obs liver_best_lineage) on the liver set's liver types and on the other tissues'
liver types, and the share of non-liver cells called Unassigned. Writes benchmarks/tables/panels.csv row by row.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
warnings.filterwarnings("ignore")
TABLES = HERE / "tables"
PANELS = (700, 1000, 2000)
SEEDS = (0, 1, 2)


def run(species_list, kinds, panels, seeds) -> pd.DataFrame:
    import anndata as ad

    from liverannot.api import load_model
    from liverannot.classifier import classify
    from liverannot.evaluate import dev_datasets, expected_lineages, score

    rows = []
    for species in species_list:
        sets = {name: ad.read_h5ad(path) for name, path in dev_datasets(species).items()}
        for kind in kinds:
            model = load_model(species, kind)
            ref_genes = set(model.reference.genes)
            for panel in panels:
                for seed in seeds:
                    t0 = time.perf_counter()
                    pred = {"liver": [], "other": []}
                    exp = {"liver": [], "other": []}
                    best = {"liver": [], "other": []}
                    for name, a in sets.items():
                        shared = sorted(g for g in a.var_names.unique() if g in ref_genes)
                        pick = set(np.random.default_rng(seed).choice(shared, min(panel, len(shared)), replace=False))
                        b = a[:, [g in pick for g in a.var_names]].copy()
                        classify(b, model)
                        part = "liver" if "_liver_" in name else "other"
                        pred[part].append(b.obs["liver_lineage"].astype(str).to_numpy())
                        best[part].append(b.obs["liver_best_lineage"].astype(str).to_numpy())
                        exp[part].append(expected_lineages(name, a.obs["cell_type"]))
                    liver = score(np.concatenate(best["liver"]), np.concatenate(exp["liver"]))
                    other = score(np.concatenate(best["other"]), np.concatenate(exp["other"])) if pred["other"] else {}
                    called = score(np.concatenate(pred["other"]), np.concatenate(exp["other"])) if pred["other"] else {}
                    rows.append({"species": species, "model": kind, "panel genes": panel, "seed": seed,
                                 "dev liver": liver.get("lineage_accuracy"),
                                 "other tissues' liver types": other.get("lineage_accuracy"),
                                 "non-liver Unassigned": called.get("unassigned_rate_nonliver"),
                                 "seconds": round(time.perf_counter() - t0, 1)})
                    TABLES.mkdir(exist_ok=True)
                    pd.DataFrame(rows).to_csv(TABLES / "panels.csv", index=False)
                    print(f"{species} {kind} {panel} genes seed {seed}: dev liver {rows[-1]['dev liver']:.3f} "
                          f"({rows[-1]['seconds']} s)", flush=True)
    return pd.DataFrame(rows)


def build_markdown() -> str:
    from liverannot.report import markdown_table, mean_range_table

    parts = ["# Models: the lab notebook", "",
             "Every recipe measured, kept or not (issue #32). Tables come from the benchmarks named in each section;",
             "mean [min, max] over seeds.", ""]
    import recipes

    parts += recipes.markdown_section()
    f = TABLES / "panels.csv"
    if f.exists():
        d = pd.read_csv(f)
        cols = ["dev liver", "other tissues' liver types", "non-liver Unassigned"]
        by = ["species", "panel genes", "model"]
        t = mean_range_table(d, by, cols)
        t["seeds"] = d.groupby(by, sort=False)["seed"].nunique().to_numpy()
        parts += ["## Gene panels, shipped recipe (`python benchmarks/panels.py`)", "",
                  "Each development set keeps only a random panel of the genes it shares with the model's reference; the",
                  "model is refit on them (as `classify` does below 60% of the model's genes). Seeds are panel draws.",
                  "Lineage accuracy of the best liver call.", "",
                  markdown_table(t), ""]
        piv = d.groupby(["species", "panel genes", "model"])["dev liver"].mean().unstack("model")
        if {"nn", "rf"} <= set(piv.columns):
            gap = (piv["rf"] - piv["nn"]).rename("rf - nn, dev liver").reset_index()
            parts += ["rf against nn with the same panels (issue #32, 3: rf should be at least as good):", "",
                      markdown_table(gap), ""]
    return "\n".join(parts)


def main(argv=None) -> int:
    from liverannot.evaluate import shared_data_dir

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--species", default="human,mouse")
    p.add_argument("--kinds", default="nn,rf")
    p.add_argument("--panels", default=",".join(map(str, PANELS)))
    p.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    p.add_argument("--markdown", action="store_true", help="only rebuild MODELS.md from the table")
    a = p.parse_args(argv)
    if not a.markdown:
        if shared_data_dir() is None:
            print("benchmarks/panels.py: ../shared/data is not beside this checkout", file=sys.stderr)
            return 2
        run(a.species.split(","), a.kinds.split(","), [int(x) for x in a.panels.split(",")],
            [int(x) for x in a.seeds.split(",")])
    text = build_markdown()
    (HERE / "MODELS.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
