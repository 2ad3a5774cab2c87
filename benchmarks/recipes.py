#!/usr/bin/env python
"""Training recipes side by side, at several seeds: the lab notebook's main table (issue #32).

    python benchmarks/recipes.py --recipes shipped,multi_atlas --species mouse --kinds nn --seeds 0,1,2
    python benchmarks/recipes.py --markdown      # only rebuild benchmarks/MODELS.md from the tables

A recipe is the shipped settings of a species and kind (``train_cli.shipped_settings``) with the
overrides of :data:`RECIPES` merged in. Each (recipe, species, kind, seed) is trained and evaluated
as ``liverannot train --all`` evaluates a model (``train_cli.evaluate_model``, through
``benchmarks/seeds.py``): the liver development set (lineage accuracy; with 30% of the model's genes),
the other tissues' liver types, their non-liver cells Unassigned, the other species' liver cells.

Rows are appended to benchmarks/tables/recipes.csv as each model finishes; a row already there is not
run again (``--force`` reruns it), so a long comparison can be split over several calls. MODELS.md is
rebuilt from every table at the end (``benchmarks/panels.py`` writes the panels section).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
TABLES = HERE / "tables"
TABLE = TABLES / "recipes.csv"
sys.path.insert(0, str(HERE))

#: recipe name -> (overrides of the shipped settings, what it is)
RECIPES = {
    "shipped": ({}, "the shipped models' recipe: one atlas per species (MacParland 10x, MCA Microwell-seq), "
                    "marker-built classes and PanglaoDB Non-liver types"),
    "multi_atlas": ({"multi_atlas": True}, "every class also learnt from the species' other atlases' clusters "
                                           "(data/atlas_classes.tsv), organ-specific clusters as Non-liver examples"),
    "multi_atlas_organ": ({"multi_atlas": True, "organ_ambient": True},
                          "multi_atlas, with the organ-specific genes of an organ atlas (those of its non-liver clusters) "
                          "treated as unmeasured in its liver-class clusters: there they are the organ's ambient RNA"),
    "multi_atlas_clean": ({"multi_atlas": True, "decontaminate": True},
                          "multi_atlas, each liver-class cluster of the other atlases first rid of its estimated ambient "
                          "RNA (SoupX-like: the atlas's mean profile, its share read off the other lineages' marker genes)"),
    "multi_atlas_organ_clean": ({"multi_atlas": True, "organ_ambient": True, "decontaminate": True},
                                "multi_atlas_clean and multi_atlas_organ together: the organ-specific genes unmeasured "
                                "in an organ atlas's liver-class clusters, the rest of their soup subtracted"),
    "second_atlas": ({"second_atlas": True}, "the other species' liver atlas through orthologs "
                                             "(data/cross_species_classes.tsv; mouse only)"),
    "multi_second": ({"multi_atlas": True, "second_atlas": True}, "multi_atlas and second_atlas together (mouse)"),
    # cheaper networks (issue #33: the first layer of 3 members x 256 units is ~37 s of classifying 1M cells)
    "nn_one_member": ({"params": {"n_ensemble": 1}}, "the shipped recipe with one network instead of an ensemble of "
                                                    "three (a third of the first layer's flops; nn only)"),
    "nn_hidden128": ({"params": {"hidden": [128]}}, "the shipped recipe with 128 hidden units instead of 256 in each "
                                                   "of the three networks (half the flops; nn only)"),
    "nn_pcs256": ({"params": {"input_pcs": 256}}, "the shipped recipe, the networks trained on the training features' "
                                                 "top 256 principal components (a shared projection; directions the "
                                                 "simulation never varies get no weight; 2.5x fewer first-layer flops; nn only)"),
}
#: recipes that change the network's own parameters: nn only
NN_ONLY = {"nn_one_member", "nn_hidden128", "nn_pcs256"}
#: recipes measured, then changed: their rows stay in the table under these names
RETIRED = {
    "multi_atlas_v1": "multi_atlas as first measured (commit 1cb021b): the real non-liver clusters also defined the "
                      "Non-liver marker genes of the non-liver-share rule, which then left human cholangiocytes "
                      "Unassigned (cross-species) and some liver types of other tissues (rf)",
    "multi_atlas_v2": "multi_atlas (mouse rows) while MCA kidney's 'Endothelial.cell' still trained the endothelial class "
                      "(it is not endothelial: Pecam1, Cdh5, Kdr ~0; Aqp1, Cryab, Fxyd2, Spp1 high; unmapped after 8e05a4b)",
    "multi_atlas_organ_v2": "multi_atlas_organ (mouse rows) with that cluster still mapped",
}
KEY = ["recipe", "species", "kind", "seed"]
METRICS = ["dev", "dev_30pct_genes", "other_tissues", "nonliver_unassigned", "cross_species"]


def _key_mask(df: pd.DataFrame, key) -> pd.Series:
    """The rows of ``df`` whose (recipe, species, kind, seed) is ``key``."""
    return (df[KEY].astype(str) == pd.Series(key, index=KEY).astype(str)).all(axis=1)


def _has_row(df: pd.DataFrame, key) -> bool:
    return bool(len(df)) and bool(_key_mask(df, key).any())


def run(recipes, species_list, kinds, seeds, force: bool = False, n_per_class: int | None = None) -> None:
    import seeds as seeds_bench

    done = pd.read_csv(TABLE) if TABLE.exists() else pd.DataFrame(columns=KEY)
    for recipe in recipes:
        overrides = RECIPES[recipe][0]
        for species in species_list:
            if overrides.get("second_atlas") and species != "mouse":
                continue
            for kind in kinds:
                if recipe in NN_ONLY and kind != "nn":
                    continue
                for seed in seeds:
                    key = (recipe, species, kind, seed)
                    if _has_row(done, key) and not force:
                        continue
                    t0 = time.perf_counter()
                    df = seeds_bench.run(species, kind, [seed], False, dict(overrides), n_per_class)
                    row = {"recipe": recipe, "species": species, "kind": kind, "seed": seed,
                           **{m: df[m].iloc[0] for m in METRICS},
                           "minutes": round((time.perf_counter() - t0) / 60, 1), "date": time.strftime("%Y-%m-%d")}
                    # re-read before writing: another call may have added rows meanwhile
                    now = pd.read_csv(TABLE) if TABLE.exists() else pd.DataFrame(columns=KEY)
                    done = pd.concat([now[~_key_mask(now, key)], pd.DataFrame([row])], ignore_index=True)
                    TABLE.parent.mkdir(exist_ok=True)
                    done.to_csv(TABLE, index=False)
                    print(f"{recipe} {species} {kind} seed {seed}: " +
                          ", ".join(f"{m} {row[m]:.3f}" for m in METRICS if pd.notna(row[m])) +
                          f" ({row['minutes']} min)", flush=True)


def markdown_section() -> list[str]:
    from liverannot.report import markdown_table, mean_range_table

    if not TABLE.exists():
        return []
    d = pd.read_csv(TABLE)
    by = ["species", "kind", "recipe"]
    order = {r: i for i, r in enumerate([*RECIPES, *RETIRED])}
    d = d.iloc[sorted(range(len(d)), key=lambda i: (d["species"].iloc[i], d["kind"].iloc[i],
                                                    order.get(d["recipe"].iloc[i], 99), d["seed"].iloc[i]))]
    t = mean_range_table(d, by, METRICS)
    t["seeds"] = d.groupby(by, sort=False)["seed"].apply(lambda s: ",".join(map(str, sorted(s)))).to_numpy()
    t = t.rename(columns={"dev": "dev liver", "dev_30pct_genes": "dev, 30% of genes",
                          "other_tissues": "other tissues' liver types", "nonliver_unassigned": "non-liver Unassigned",
                          "cross_species": "other species' liver"})
    lines = ["## Recipes side by side (`python benchmarks/recipes.py`)", "",
             "Lineage accuracy on real cells (Unassigned counts as wrong), as the model cards report it; non-liver",
             "Unassigned is the share of the other tissues' non-liver cells (acinar, islet, tubule, alveolar...)",
             "called Unassigned. Mean [min, max] over training seeds.", ""]
    lines += [f"- `{name}`: {desc}" for name, (_, desc) in RECIPES.items() if name in set(d["recipe"])]
    lines += [f"- `{name}` (not kept): {desc}" for name, desc in RETIRED.items() if name in set(d["recipe"])]
    lines += ["", markdown_table(t), ""]
    return lines


def main(argv=None) -> int:
    from liverannot.evaluate import shared_data_dir

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipes", default="shipped,multi_atlas")
    p.add_argument("--species", default="human,mouse")
    p.add_argument("--kinds", default="nn,rf")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--force", action="store_true", help="rerun rows already in the table")
    p.add_argument("--n-per-class", type=int, default=None, help="simulated cells per class (default: the recipe's; "
                   "smaller only for smoke tests)")
    p.add_argument("--markdown", action="store_true", help="only rebuild MODELS.md from the tables")
    a = p.parse_args(argv)
    unknown = [r for r in a.recipes.split(",") if r not in RECIPES]
    if unknown:
        print(f"benchmarks/recipes.py: unknown recipe {unknown}; known: {', '.join(RECIPES)}", file=sys.stderr)
        return 2
    if not a.markdown:
        if shared_data_dir() is None:
            print("benchmarks/recipes.py: ../shared/data is not beside this checkout", file=sys.stderr)
            return 2
        run(a.recipes.split(","), a.species.split(","), a.kinds.split(","), [int(x) for x in a.seeds.split(",")], a.force,
            a.n_per_class)
    import panels

    text = panels.build_markdown()
    (HERE / "MODELS.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
