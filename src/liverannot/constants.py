"""Small vocabularies the command line needs before any heavy library is imported."""

#: what an input's X may hold (`--input-kind`); detected by io.detect_kind when not given
INPUT_KINDS = ("counts", "normalized", "log1p")

#: cells per chunk of the classifier's pass (`--chunk-size`): a chunk's features are a dense cells x
#: ~4,000 float32 matrix, and its raw rows are held twice (one read ahead); 10,000 cells keep a
#: 1M-cell classify under 2 GB, as fast as with 20,000 (measured: README, Benchmarks)
CLASSIFY_CHUNK_SIZE = 10000
