#!/usr/bin/env python
"""Do the other atlases' clusters look like the liver class data/atlas_classes.tsv maps them to?

    python benchmarks/atlas_check.py        # prints the disagreements; writes tables/atlas_check.csv

For each species, the lineage marker modules of its own liver atlas (``reference.module_genes``: per
lineage the genes most specific to it) score every mapped cluster of the other atlases: the mean
log1p CP10k of each module's genes, as a z-score against the own atlas's classes. A cluster whose
highest-scoring lineage is not the one its class belongs to is listed: a mislabelled cluster, or one
that carries much of its organ's ambient RNA (issue #32).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def check(root: Path) -> pd.DataFrame:
    from liverannot.reference import NONLIVER_CLASS, Reference, atlas_classes, lineage_map, lineage_modules
    from liverannot.train_cli import SHIPPED_PROFILES

    rows = []
    for sp in ("human", "mouse"):
        own = Reference.from_table(root / SHIPPED_PROFILES[sp], sp)
        lin = lineage_map(sp)
        mods = lineage_modules(own, lin)

        def scores(P):
            cp = np.log1p(P / P.sum() * 1e4)
            return pd.DataFrame({ln: cp.reindex(g).fillna(0).mean() for ln, g in mods.items()})

        base = scores(own.profiles)
        t = atlas_classes(sp)
        t = t[t["class"] != NONLIVER_CLASS]
        for atlas, g in t.groupby("atlas"):
            src = Reference.from_table(root / f"{atlas}_profiles.tsv.gz", sp).profiles
            z = (scores(src[list(g["cluster"])]) - base.median()) / base.std()
            for cluster, cls in zip(g["cluster"], g["class"]):
                want, top = lin[cls], z.loc[cluster].idxmax()
                rows.append({"species": sp, "atlas": atlas, "cluster": cluster, "class": cls, "lineage": want,
                             "z_own_lineage": round(float(z.loc[cluster, want]), 2), "top_lineage": top,
                             "z_top": round(float(z.loc[cluster, top]), 2), "agrees": want == top})
    return pd.DataFrame(rows)


def main() -> int:
    from liverannot.evaluate import shared_data_dir

    root = shared_data_dir()
    if root is None:
        print("benchmarks/atlas_check.py: ../shared/data is not beside this checkout", file=sys.stderr)
        return 2
    d = check(root / "profiles")
    (HERE / "tables").mkdir(exist_ok=True)
    d.to_csv(HERE / "tables" / "atlas_check.csv", index=False)
    for sp, g in d.groupby("species"):
        print(f"{sp}: {len(g)} mapped clusters, {int((~g['agrees']).sum())} score higher on another lineage's module")
    print(d[~d["agrees"]].to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
