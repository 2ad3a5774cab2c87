"""liverannot: automated cell-type classification and cluster annotation for liver scRNA-seq.

Library functions take and return :class:`anndata.AnnData` in the scanpy way: results go to
``.obs``, ``.obsm`` and ``.uns`` under explicit ``key_added``-style names.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
