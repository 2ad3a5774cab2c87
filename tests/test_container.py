"""The container image (`pytest -m container`): built once per session with `make image`'s script
(podman, a locally debootstrapped Debian base, the host's package index through a wheelhouse), then
every step run inside it, and the pipeline's test run with -profile test,podman, whose tasks must
run in the image."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import anndata as ad
import numpy as np
import pytest

from conftest import write_h5ad
from test_pipeline_runs import LAUNCHER, SAMPLE_TASK, assert_documented_layout, assert_ok, nextflow, pipeline  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.container, pytest.mark.slow]

_tools = [shutil.which("podman"), shutil.which("debootstrap") or shutil.which("/usr/sbin/debootstrap")]
if not (all(_tools) and os.geteuid() == 0 and LAUNCHER.exists()):
    _reason = "podman, debootstrap (as root) or the pinned Nextflow is not installed"
    if os.environ.get("LIVERANNOT_REQUIRE_CONTAINER"):
        raise RuntimeError(_reason)
    pytestmark.append(pytest.mark.skip(reason=_reason))


def _version() -> str:
    return re.search(r'^version = "(.*)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)


def _image_in_config() -> str:
    """The image every module's container directive names (what `make image` must tag)."""
    images = set()
    for main_nf in sorted((ROOT / "modules" / "local").glob("*/main.nf")):
        m = re.search(r"""^\s*container\s+["']([^"']+)["']""", main_nf.read_text(), re.M)
        assert m, f"{main_nf} has no container directive"
        images.add(m.group(1).replace("${workflow.manifest.version}", _version()))
    assert len(images) == 1, images
    return images.pop()


@pytest.fixture(scope="session")
def container_env():
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", str(ROOT / "containers" / "containers.conf"))
    return env


@pytest.fixture(scope="session")
def image(container_env) -> str:
    """`make image`: unchanged layers come from podman's cache, so a rebuild of a built image is quick."""
    r = subprocess.run(["bash", str(ROOT / "scripts" / "build_image.sh")], env=container_env, capture_output=True,
                       text=True, timeout=2400)
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    tag = r.stdout.strip().splitlines()[-1]
    assert tag == _image_in_config() == f"ghcr.io/liverannot/liverannot:{_version()}"
    return tag


def test_image_build_stops_with_a_clear_message_when_the_disk_is_too_small(container_env, tmp_path):
    """The first build needs ~11 GB (PyTorch's CUDA wheels, the image's layers): on a smaller disk
    make image says so before pip or podman start, instead of failing half-way with ENOSPC."""
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(small)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        env = dict(container_env, WHEELHOUSE=str(small / "wheels"), IMAGE="localhost/liverannot-never-built:0")
        r = subprocess.run(["bash", str(ROOT / "scripts" / "build_image.sh")], env=env, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "Traceback" not in r.stderr and f"free on the disk of {small / 'wheels'}" in r.stderr, r.stderr
        assert "needs about 3500 MB there" in r.stderr, r.stderr   # the torch wheels; the layers go elsewhere
        # nothing started: no wheel downloaded, no base image or build begun
        assert "== wheelhouse" not in r.stdout and "== podman build" not in r.stdout
        assert list((small / "wheels").iterdir()) == []
    finally:
        subprocess.run(["umount", str(small)], check=True)


def host_blas_env() -> list[str]:
    """`-e NAME` for the host's OPENBLAS_* settings. OPENBLAS_CORETYPE picks numpy's BLAS kernels
    (a host may pin Haswell where the CPU would be detected as SkylakeX); different kernels round a
    float32 product differently in the last bit, and a model refit, trained from those features,
    then ends in other weights. The host and the image are compared with the same kernels."""
    return [a for name in sorted(os.environ) if name.startswith("OPENBLAS_") for a in ("-e", name)]


def podman_run(env, image, *args, volume: Path | None = None, timeout=600, options: list[str] | None = None):
    cmd = (["podman", "run", "--rm"] + (["-v", f"{volume}:/data"] if volume else []) + list(options or [])
           + [image, *args])
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def test_image_has_the_package_its_models_and_tools(image, container_env):
    r = podman_run(container_env, image, "liverannot", "--version")
    assert r.returncode == 0 and r.stdout.split()[-1] == _version(), r.stdout + r.stderr
    r = podman_run(container_env, image, "liverannot", "models")
    assert r.returncode == 0, r.stderr
    rows = [line.split("\t") for line in r.stdout.splitlines()[1:]]
    assert {(x[0], x[1]) for x in rows} == {("human", "nn"), ("human", "rf"), ("mouse", "nn"), ("mouse", "rf")}
    assert all(x[2] != "MISSING" for x in rows)
    # the image's Python is the one the package runs on, MultiQC and torch are in it, Nextflow's
    # task metrics need ps
    r = podman_run(container_env, image, "sh", "-c", "command -v liverannot python3 multiqc ps && "
                   "python3 -c 'import torch, liverannot; print(torch.__version__.split(\"+\")[0], liverannot.__file__)'")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    assert lines[0] == "/opt/venv/bin/liverannot" and lines[-2] == "2.13.0" and lines[-1].startswith("/opt/venv/")


def test_classify_in_the_image_matches_the_host(image, container_env, human_sample, tmp_path):
    """The same calls inside the image as on the host, with all genes and with 30% of them (the
    neural network refit, which trains with torch inside the container), with the host's BLAS kernels."""
    import liverannot as la

    full = human_sample[:300].copy()
    keep_model = set(np.random.default_rng(3).choice(la.load_model("human").genes, 1100, replace=False))
    model_genes = set(la.load_model("human").genes)
    few = full[:, [g for g in full.var_names if g not in model_genes or g in keep_model]].copy()
    for name, a in (("full", full), ("few", few)):
        write_h5ad(a, tmp_path / f"{name}.h5ad")
        r = podman_run(container_env, image, "liverannot", "classify", "-i", f"/data/{name}.h5ad",
                       "-o", f"/data/{name}.cls.h5ad", "--species", "human", volume=tmp_path, timeout=900,
                       options=host_blas_env())
        assert r.returncode == 0, r.stderr[-3000:]
        inside = ad.read_h5ad(tmp_path / f"{name}.cls.h5ad")
        host = la.read(tmp_path / f"{name}.h5ad")
        la.classify(host, species="human")
        assert inside.uns["liver_classify"]["refit_on_shared_genes"] == (name == "few")
        same = (inside.obs["liver_celltype"].astype(str) == host.obs["liver_celltype"].astype(str)).mean()
        assert same == 1.0, (name, same)
        np.testing.assert_allclose(inside.obsm["liver_proba"], host.obsm["liver_proba"], atol=1e-5)
    # a bad input gives liverannot's message inside the image too, not a traceback
    (tmp_path / "bad.h5ad").write_text("not an h5ad")
    r = podman_run(container_env, image, "liverannot", "classify", "-i", "/data/bad.h5ad", "-o", "/data/x.h5ad",
                   volume=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "bad.h5ad" in r.stderr


def test_the_image_ships_its_compiled_kernels(image, container_env, mouse_sample, tmp_path):
    """Every task starts a new container: the image carries numba's compiled kernels (built by
    `liverannot precompile` at build time), so a whole run in a fresh container, as a user other
    than root (Nextflow's docker profile runs as the caller's uid), compiles nothing: no file of
    the cache is added or rewritten."""
    write_h5ad(mouse_sample, tmp_path / "m.h5ad")
    (tmp_path / "sheet.csv").write_text("sample,input,species\nm,m.h5ad,mouse\n")
    tmp_path.chmod(0o777)
    (tmp_path / "m.h5ad").chmod(0o644)   # written 0600 (atomically, through a private temporary file)
    script = ("set -e; touch /tmp/start; sleep 1; "
              "liverannot run --input /data/sheet.csv --outdir /data/res --no-multiqc -q; "
              'echo "cache files: $(find "$NUMBA_CACHE_DIR" -type f -name "*.nbc" | wc -l)"; '
              'echo "written by the run: $(find "$NUMBA_CACHE_DIR" -type f -newer /tmp/start | wc -l)"')
    r = podman_run(container_env, image, "sh", "-c", script, volume=tmp_path, options=["--user", "1000:1000"])
    assert r.returncode == 0, r.stderr[-3000:]
    shipped = int(re.search(r"cache files: (\d+)", r.stdout).group(1))
    assert shipped >= 20, r.stdout
    assert "written by the run: 0" in r.stdout, r.stdout
    assert (tmp_path / "res" / "m" / "m.annotated.h5ad").exists()


def test_the_test_profile_runs_in_the_image_with_podman(image, container_env, pipeline, tmp_path, monkeypatch):
    monkeypatch.setenv("CONTAINERS_CONF", container_env["CONTAINERS_CONF"])
    # numba says where each kernel comes from: the image's precompiled cache must serve every task
    # (the pipeline's config once pointed NUMBA_CACHE_DIR at the container's empty /tmp)
    debug = tmp_path / "numba_debug.config"
    debug.write_text("env { NUMBA_DEBUG_CACHE = '1' }\n")
    run = nextflow(pipeline, tmp_path, "-profile", "test,podman", "-c", str(debug), timeout=1800)
    assert_ok(run)
    for row in run.tasks(SAMPLE_TASK):
        out = (Path(row["workdir"]) / ".command.out").read_text()
        assert out.count("[cache] data loaded") >= 20 and "[cache] data saved" not in out, (row["tag"], out[-2000:])
    trace = run.trace
    assert len(trace) == 2 + 2 and {r["status"] for r in trace} == {"COMPLETED"}
    assert sorted(r["tag"] for r in run.tasks(SAMPLE_TASK)) == ["donor1", "donor2"]
    for row in trace:
        wrapper = (Path(row["workdir"]) / ".command.run").read_text()
        # every task ran in the image, through podman
        line = re.search(rf"podman run .*{re.escape(image)}.*", wrapper)
        assert line, row["name"]
        # the liverannot that ran is the image's: every liverannot command logs where it runs from
        # (the host's PATH had none; the host's .venv may be mounted when the checkout is under
        # the work dir's common ancestor, but the image's PATH comes first)
        if row["name"].split(" ")[0].split(":")[-1].startswith("LIVERANNOT_"):   # not MultiQC
            log = (Path(row["workdir"]) / ".command.log").read_text()
            assert re.search(r"liverannot \S+ \w+ \(/opt/venv/lib/python3\.11/site-packages/liverannot, Python", log), \
                (row["name"], log[:2000])
        versions = Path(row["workdir"]) / "versions.yml"
        if versions.exists() and "liverannot" in versions.read_text():
            assert _version() in versions.read_text()
    assert sum("LIVERANNOT_" in r["name"] for r in trace) == 2 + 1
    assert_documented_layout(run, ("donor1", "donor2"))
