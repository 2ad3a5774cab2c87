import logging
import warnings
from pathlib import Path

import numpy as np
import pytest

warnings.filterwarnings("ignore")
logging.getLogger("numba").setLevel(logging.ERROR)

from liverannot.evaluate import shared_data_dir  # noqa: E402

SHARED = shared_data_dir()
needs_shared = pytest.mark.skipif(SHARED is None, reason="../shared/data (real liver reference data) is not "
                                  "beside this checkout; set LIVERANNOT_SHARED_DATA to run these tests")


@pytest.fixture(scope="session")
def human_sample():
    """800 simulated human liver cells (raw counts, full reference gene set + MT genes, true labels)."""
    from liverannot.demo import simulate_sample

    return simulate_sample("human", n_cells=800, seed=11)


@pytest.fixture(scope="session")
def mouse_sample():
    from liverannot.demo import simulate_sample

    return simulate_sample("mouse", n_cells=800, seed=12)


@pytest.fixture
def adata(human_sample):
    return human_sample.copy()


@pytest.fixture(scope="session")
def human_nn():
    from liverannot.model import Model

    return Model.shipped("human", "nn")


@pytest.fixture(scope="session")
def human_rf():
    from liverannot.model import Model

    return Model.shipped("human", "rf")


@pytest.fixture(scope="session")
def processed(human_sample, tmp_path_factory):
    """The demo sample through qc, normalize, cluster, classify and annotate (library calls)."""
    from liverannot import annotation, classifier, cluster, normalize, qc
    from liverannot.model import Model

    a = human_sample.copy()
    qc.calculate_qc_metrics(a)
    a, _ = qc.filter_cells_genes(a)
    normalize.normalize(a)
    cluster.cluster(a, resolution=1.0)
    classifier.classify(a, Model.shipped("human", "nn"))
    table = annotation.annotate_clusters(a)
    return a, table


def write_h5ad(a, path: Path) -> Path:
    from liverannot.io import write_h5ad as w

    w(a, path)
    return path
