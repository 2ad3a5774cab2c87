"""`nf-core pipelines lint` on the pipeline, with the real `nextflow config` of the pinned Nextflow
(scripts/get_nextflow.sh) and nf-core tools pinned in .cache/nf-core-venv (scripts/get_nf_core.sh).

Zero failures. The checks that .nf-core.yml switches off are the template's own exemptions for the
template features liverannot does not have, and the checks that cannot run offline; each stands
there with its reason.
"""

from __future__ import annotations

import json
import os
import re
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


# ------------------------------------------------------------------------------------------
# the published components (scripts/components_repo.py): nf-core modules lint / subworkflows lint
# ------------------------------------------------------------------------------------------

# The checks that cannot pass here, each for a reason outside the components:
# - main_nf docker_tag / singularity_tag: nf-core tools 4.2.1 resolves a module's container with
#   `nextflow inspect`, which it runs only with Nextflow >= 25.04.4; Maven Central serves the
#   25.04.4 core jar but not its nf-lang 25.04.4 or io.seqera:lib-trace, so the pinned Nextflow is
#   24.10.8 (scripts/get_nextflow.sh; Nextflow's own launcher downloads from the network). The
#   container line itself is checked by container_links (the ghcr.io registry, .nf-core.yml) and by
#   tests/test_nextflow.py (the tag is the package version) and tests/test_container.py (the image).
# - module_tests / subworkflow_tests test_dir_exists: the nf-test files. nf-test is on no registry
#   reachable here (not on PyPI, npm or Maven Central); the components are tested instead by a
#   host pipeline that installs them and runs them (tests/test_pipeline_runs.py).
CANNOT_RUN_HERE = {("main_nf", "docker_tag"), ("main_nf", "singularity_tag"),
                   ("module_tests", "test_dir_exists"), ("subworkflow_tests", "test_dir_exists")}
PUBLISHED_MODULES = {f"liverannot/{s}" for s in ("qc", "normalize", "cluster", "classify", "annotate", "report",
                                                  "sample", "aggregate")}


def lint_components(tmp_path: Path, source: Path = ROOT) -> dict:
    from components_remote import ComponentsRemote, lint

    remote = ComponentsRemote(tmp_path / "remote", source)
    try:
        result = lint(remote, tmp_path / "home")
    finally:
        remote.close()
    # the lint left the published files as they are (it sorts environment.yml in place, say)
    status = subprocess.run(["git", "-C", str(remote.work), "status", "--porcelain"], capture_output=True,
                            text=True, check=True).stdout
    result["changed"] = status.splitlines()
    return result


def test_the_published_components_pass_nf_core_modules_and_subworkflows_lint(tmp_path):
    result = lint_components(tmp_path)
    modules, subworkflows = result["modules"], result["subworkflows"]
    assert {r[0] for r in modules["passed"]} == PUBLISHED_MODULES
    assert {r[0] for r in subworkflows["passed"]} == {"liver_annotation"}
    for kind in (modules, subworkflows):
        unexpected = [r for r in kind["failed"] if (r[1], r[2]) not in CANNOT_RUN_HERE]
        assert unexpected == [], unexpected
        assert kind["warned"] == [], kind["warned"]
    # every module went through every check, meta keys, topics, environment schema and registry among them
    passed = {(r[0], r[2]) for r in modules["passed"]}
    for module in PUBLISHED_MODULES:
        for check in ("main_nf_meta_key", "main_nf_version_topic", "environment_yml_valid", "environment_yml_sorted",
                      "meta_yml_valid", "container_links", "has_meta_topics"):
            assert (module, check) in passed, (module, check)
    assert len(modules["passed"]) > 250 and len(subworkflows["passed"]) > 15
    assert result["changed"] == []


def test_the_components_lint_can_fail(tmp_path):
    """A module whose script reads a meta field other than id, and one whose meta.yml lost its keywords."""
    from components_remote import copy_sources

    source = copy_sources(tmp_path / "source")
    classify = source / "modules" / "local" / "classify" / "main.nf"
    text = classify.read_text()
    classify.write_text(text.replace("        ${args}\n", "        --species ${meta.species} ${args}\n", 1))
    meta = source / "modules" / "local" / "qc" / "meta.yml"
    meta.write_text(re.sub(r"keywords:\n(- .*\n)+", "keywords:\n- qc\n", meta.read_text()))
    result = lint_components(tmp_path, source)
    failed = {(r[0], r[2]) for r in result["modules"]["failed"]}
    assert ("liverannot/classify", "main_nf_meta_key") in failed
    assert ("liverannot/qc", "meta_yml_valid") in failed
