"""Small vocabularies the command line needs before any heavy library is imported."""

#: what an input's X may hold (`--input-kind`); detected by io.detect_kind when not given
INPUT_KINDS = ("counts", "normalized", "log1p")
