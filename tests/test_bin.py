"""bin/liverannot, what every pipeline task calls (Nextflow puts bin/ first on the task's PATH):
the liverannot of the task's environment, else the project's .venv, else the pipeline's own src/
with an environment's python that has the dependencies (-profile conda), else a clear message.
The first two are what the real runs use (tests/test_pipeline_runs.py); these are the others."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def staged_pipeline(tmp_path: Path, with_src: bool) -> Path:
    """bin/ of a pipeline folder with no .venv (and src/ linked in when asked)."""
    d = tmp_path / "pipeline"
    (d / "bin").mkdir(parents=True)
    shutil.copy(ROOT / "bin" / "liverannot", d / "bin" / "liverannot")
    (d / "bin" / "multiqc").symlink_to("liverannot")
    if with_src:
        (d / "src").symlink_to(ROOT / "src")
    return d


def test_an_environment_with_the_dependencies_runs_the_pipelines_own_package(tmp_path):
    d = staged_pipeline(tmp_path, with_src=True)
    env_bin = tmp_path / "env" / "bin"   # a conda-like environment: a python with scanpy, no liverannot
    env_bin.mkdir(parents=True)
    (env_bin / "python3").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (env_bin / "python3").chmod(0o755)
    env = {**os.environ, "PATH": f"{d / 'bin'}:{env_bin}:/usr/bin:/bin"}
    r = subprocess.run([str(d / "bin" / "liverannot"), "--version"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("liverannot ")


def test_with_nothing_installed_the_message_says_what_to_do(tmp_path):
    d = staged_pipeline(tmp_path, with_src=False)
    env = {**os.environ, "PATH": f"{d / 'bin'}:/usr/bin:/bin"}
    for tool in ("liverannot", "multiqc"):
        r = subprocess.run([str(d / "bin" / tool), "--version"], capture_output=True, text=True, env=env)
        assert r.returncode == 127
        assert f"{tool}: not found" in r.stderr and "-profile docker" in r.stderr and "make setup" in r.stderr
