"""`nf-core pipelines lint` on the pipeline, with the real `nextflow config` of the pinned Nextflow
(scripts/get_nextflow.sh) and nf-core tools pinned in .cache/nf-core-venv (scripts/get_nf_core.sh).

Zero failures. The checks that .nf-core.yml switches off are the template's own exemptions for the
template features liverannot does not have, and the checks that cannot run offline; each stands
there with its reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NF_CORE = ROOT / ".cache" / "nf-core-venv" / "bin" / "nf-core"
NEXTFLOW_DIR = ROOT / ".cache" / "nextflow"

pytestmark = [pytest.mark.nextflow]

if not (NF_CORE.exists() and (NEXTFLOW_DIR / "nextflow").exists()):
    _reason = "nf-core tools or Nextflow missing (run scripts/get_nf_core.sh and scripts/get_nextflow.sh)"
    if os.environ.get("LIVERANNOT_REQUIRE_NEXTFLOW"):
        raise RuntimeError(_reason)
    pytestmark.append(pytest.mark.skip(reason=_reason))


def lint(pipeline_dir: Path, tmp_path: Path) -> dict:
    out = tmp_path / "lint.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NXF_")}
    env.update(PATH=f"{NEXTFLOW_DIR}{os.pathsep}{env['PATH']}", NXF_HOME=str(NEXTFLOW_DIR / "home"),
               HOME=str(tmp_path / "home"), NF_CORE_LINT_OUTPUT="plain", HIDE_PROGRESS="1")
    r = subprocess.run([str(NF_CORE), "pipelines", "lint", "--dir", str(pipeline_dir), "--plain-text",
                        "--json", str(out)], capture_output=True, text=True, env=env, timeout=600)
    assert out.exists(), r.stdout[-3000:] + r.stderr[-3000:]
    return json.loads(out.read_text())


def test_nf_core_lint_reports_no_failure(tmp_path):
    result = lint(ROOT, tmp_path)
    assert result["num_tests_failed"] == 0, result["tests_failed"]
    assert result["num_tests_pass"] > 100
    # the real `nextflow config` was read (the checks of nextflow.config passed, none ignored whole)
    passed = [t for t, _ in result["tests_pass"]]
    assert passed.count("nextflow_config") > 10 and "schema_params" in passed and "multiqc_config" in passed


def test_nf_core_lint_can_fail(tmp_path):
    """The same pipeline less docs/usage.md and with an undeclared schema default fails the lint."""
    copy = tmp_path / "pipeline"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    for f in files:
        src = ROOT / f
        if not src.exists() and not src.is_symlink():
            continue
        dst = copy / f
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            dst.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, dst)
    (copy / "docs" / "usage.md").unlink()
    schema = json.loads((copy / "nextflow_schema.json").read_text())
    schema["$defs"]["qc_clustering_options"]["properties"]["min_genes"]["default"] = 12345
    (copy / "nextflow_schema.json").write_text(json.dumps(schema, indent=4))
    result = lint(copy, tmp_path)
    failed = " ".join(msg for _, msg in result["tests_failed"])
    assert "docs/usage.md" in failed and "min_genes" in failed, result["tests_failed"]
