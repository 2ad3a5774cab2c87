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

from . import pl, pp  # noqa: E402
from .api import annotate, classify, detect_species, load_model, models, read, zonation  # noqa: E402
from .errors import GeneMatchError, InputError, LiverannotError  # noqa: E402

__all__ = ["__version__", "annotate", "classify", "detect_species", "load_model", "models", "read", "zonation", "pl", "pp",
           "LiverannotError", "InputError", "GeneMatchError"]
