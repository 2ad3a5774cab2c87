"""liverannot: automated cell-type classification and cluster annotation for liver scRNA-seq.

    import liverannot as la
    la.classify(adata)                                   # species detected; model="nn" or "rf"; + hepatocyte zonation
    table = la.annotate(adata, groupby="leiden", mode="proba")
    la.models()                                          # the shipped models and their measured numbers
    la.pl.umap(adata); la.pl.composition(adata); la.pl.confidence(adata)

Functions take and return :class:`anndata.AnnData` in the scanpy way: results go to ``.obs``,
``.obsm`` and ``.uns`` under explicit ``key_added``-style names. ``la.pp`` holds the pipeline's
QC, normalization and clustering; ``la.pl`` the report's plots. Errors caused by the input or the
options are :class:`LiverannotError` with a message that says what to fix. Heavy libraries
(scanpy, matplotlib, scikit-learn) are imported only when a function needs them.
"""

__version__ = "0.1.0"

from .errors import GeneMatchError, InputError, LiverannotError  # noqa: E402

#: public names and the module each comes from, imported on first use: `liverannot --version` and
#: every pipeline task start without numpy, pandas or anndata until a step needs them
_LAZY = {"annotate": "api", "classify": "api", "detect_species": "api", "load_model": "api", "models": "api",
         "read": "api", "zonation": "api", "pl": None, "pp": None}

__all__ = ["__version__", "annotate", "classify", "detect_species", "load_model", "models", "read", "zonation", "pl", "pp",
           "LiverannotError", "InputError", "GeneMatchError"]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'liverannot' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(f".{_LAZY[name] or name}", __name__)
    value = module if _LAZY[name] is None else getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
