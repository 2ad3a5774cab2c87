"""scripts/get_nextflow.sh: a clear message, and no launcher, when Maven Central cannot give the
pinned artifacts (the same path as an unreachable Central: mvn fails to resolve)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not (shutil.which("mvn") and shutil.which("java")), reason="needs mvn and java")
def test_an_unresolvable_nextflow_gives_a_clear_message_and_no_launcher(tmp_path):
    (tmp_path / "scripts" / "nextflow").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "get_nextflow.sh", tmp_path / "scripts")
    pom = (ROOT / "scripts" / "nextflow" / "pom.xml").read_text()
    (tmp_path / "scripts" / "nextflow" / "pom.xml").write_text(
        pom.replace("<nextflow.version>24.10.8<", "<nextflow.version>24.10.999<"))
    shutil.copy(ROOT / "scripts" / "nextflow" / "nf-lang.pom.xml", tmp_path / "scripts" / "nextflow")
    r = subprocess.run(["bash", str(tmp_path / "scripts" / "get_nextflow.sh")], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 1
    assert "could not resolve the dependencies of scripts/nextflow/pom.xml from Maven Central" in r.stderr
    assert "io.nextflow:nextflow:jar:24.10.999" in r.stderr     # mvn's own words, the tail of its log
    assert not (tmp_path / ".cache" / "nextflow" / "nextflow").exists()
    assert not list((tmp_path / ".cache" / "nextflow").glob("lib-*"))
