"""Static checks of the Nextflow pipeline that no real run covers (tests/test_pipeline_runs.py runs
it for real and checks the strict syntax with nf-lang):

- params used anywhere are declared in nextflow.config and in nextflow_schema.json (and the
  reverse), with the same defaults: a run silently takes an undeclared param as null;
- every module follows the conventions (process_* label of conf/base.config, versions.yml, stub,
  ext.args from conf/modules.config, conda and container, a tag naming the sample, a meta.yml that
  documents exactly its inputs and emits, environment.yml linking the one conda environment).
"""

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NF_FILES = sorted(p for p in ROOT.rglob("*.nf") if ".cache" not in p.parts and "work" not in p.parts)
CONFIG_FILES = [ROOT / "nextflow.config", *sorted((ROOT / "conf").glob("*.config"))]


# ------------------------------------------------------------------------------------------
# small parsers for the parts of Nextflow files the checks need
# ------------------------------------------------------------------------------------------

def block(text: str, open_idx: int) -> str:
    """The text inside the braces that open at text[open_idx] (which must be '{')."""
    assert text[open_idx] == "{"
    depth = 0
    for i in range(open_idx, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[open_idx + 1:i]
    raise ValueError("unbalanced braces")


def groovy_literal(v: str):
    v = v.strip().rstrip(",")
    if v == "null":
        return None
    if v in ("true", "false"):
        return v == "true"
    if re.fullmatch(r"-?\d+", v):
        return int(v)
    if re.fullmatch(r"-?\d+\.\d*", v):
        return float(v)
    if v[:1] in "'\"" and v[-1:] == v[:1]:
        return v[1:-1]
    return v


def params_of(config: Path) -> dict:
    text = config.read_text()
    m = re.search(r"^params\s*\{", text, re.M)
    if not m:
        return {}
    body = block(text, m.end() - 1)
    out = {}
    for line in body.splitlines():
        line = re.sub(r"\s//.*$", "", line).strip()
        mm = re.match(r"^(\w+)\s*=\s*(.+)$", line)
        if mm:
            out[mm.group(1)] = groovy_literal(mm.group(2))
    return out


def processes() -> dict[str, dict]:
    """name -> {file, text, script, inputs, outputs, stub}"""
    out = {}
    for f in (ROOT / "modules").rglob("main.nf"):
        text = f.read_text()
        for m in re.finditer(r"^process\s+(\w+)\s*\{", text, re.M):
            body = block(text, m.end() - 1)
            script = re.search(r"\n\s*script:\s*\n(.*?)\n\s*stub:", body, re.S)
            inputs = re.search(r"\n\s*input:\s*\n(.*?)\n\s*output:", body, re.S).group(1)
            outputs = re.search(r"\n\s*output:\s*\n(.*?)\n\s*when:", body, re.S).group(1)
            out[m.group(1)] = {"file": f, "text": body, "script": script.group(1) if script else None,
                               "inputs": inputs, "outputs": outputs}
    return out


def ext_args(process: str) -> str | None:
    text = (ROOT / "conf" / "modules.config").read_text()
    m = re.search(r"withName:\s*'" + re.escape(process) + r"'\s*\{", text)
    if not m:
        return None
    body = block(text, m.end() - 1)
    a = re.search(r"ext\.args\s*=\s*\{", body)
    return "{" + block(body, a.end() - 1) + "}" if a else None


# ------------------------------------------------------------------------------------------
# checks
# ------------------------------------------------------------------------------------------

def test_params_are_declared_and_in_the_schema():
    declared = params_of(ROOT / "nextflow.config")
    schema = json.loads((ROOT / "nextflow_schema.json").read_text())
    in_schema = {k for d in schema["$defs"].values() for k in d["properties"]}
    used = set()
    for f in [*NF_FILES, *CONFIG_FILES]:
        used |= set(re.findall(r"\bparams\.(\w+)", f.read_text()))
    test_only = set(params_of(ROOT / "conf" / "test.config"))
    assert used - set(declared) - test_only == set(), "params used but not declared in nextflow.config"
    assert set(declared) - in_schema == set(), "params missing from nextflow_schema.json"
    assert in_schema - set(declared) - test_only == set(), "schema params not declared in nextflow.config"
    # defaults agree
    for d in schema["$defs"].values():
        for k, spec in d["properties"].items():
            # (an interpolated default is compared by nf-core lint, which evaluates the config)
            if "default" in spec and k in declared and "${" not in str(declared[k]):
                assert spec["default"] == declared[k], (k, spec["default"], declared[k])


def test_modules_follow_the_conventions():
    labels = set(re.findall(r"withLabel:\s*(\w+)", (ROOT / "conf" / "base.config").read_text()))
    for name, p in processes().items():
        t = p["text"]
        assert re.search(r"label\s+'(process_\w+)'", t), f"{name}: no process_* label"
        assert re.search(r"label\s+'(process_\w+)'", t).group(1) in labels, f"{name}: label not in base.config"
        assert 'path "versions.yml"' in t and "END_VERSIONS" in t, f"{name}: no versions.yml"
        assert "stub:" in t, f"{name}: no stub block"
        assert "task.ext.args" in t, f"{name}: options not from task.ext.args"
        assert "container" in t and "conda" in t, f"{name}: no container/conda directive"
        if "val(meta)" in p["inputs"]:
            assert 'tag "$meta.id"' in t, f"{name}: no tag"
        assert ext_args(name) is not None, f"{name}: no ext.args in conf/modules.config"
        # meta.yml documents exactly what the module takes and emits; environment.yml is the one env
        meta = yaml.safe_load((p["file"].parent / "meta.yml").read_text())
        emits = re.findall(r"emit:\s*(\w+)", p["outputs"])
        assert list(meta["output"]) == emits, f"{name}: meta.yml outputs {list(meta['output'])} != emits {emits}"
        inputs = re.findall(r"(?:val|path)\(?\s*(\w+)", p["inputs"])
        documented = [k for item in meta["input"] for d in (item if isinstance(item, list) else [item]) for k in d]
        assert documented == inputs, f"{name}: meta.yml inputs {documented} != {inputs}"
        env = p["file"].parent / "environment.yml"
        assert env.resolve() == (ROOT / "containers" / "environment.yml").resolve(), f"{name}: environment.yml"
        assert 'conda "${moduleDir}/environment.yml"' in t, f"{name}: conda directive"
    # every withName in modules.config names a real process
    names = set(re.findall(r"withName:\s*'(\w+)'", (ROOT / "conf" / "modules.config").read_text()))
    assert names <= set(processes()), names - set(processes())


def _package_version() -> str:
    return re.search(r'^version = "(.*)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)


def test_every_module_names_the_image_of_this_version():
    """A fixed tag, not workflow.manifest.version: in another pipeline that is the host's version."""
    for name, p in processes().items():
        m = re.search(r"""^\s*container\s+["']([^"']+)["']""", p["text"], re.M)
        assert m and m.group(1) == f"ghcr.io/liverannot/liverannot:{_package_version()}", (name, m and m.group(1))


def test_the_components_repository_publishes_the_pipelines_own_files(tmp_path):
    import subprocess
    import sys

    script = ROOT / "scripts" / "components_repo.py"
    repo = tmp_path / "components"
    first = subprocess.run([sys.executable, str(script), str(repo)], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    published = {str(p.relative_to(repo)) for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    steps = ("qc", "normalize", "cluster", "classify", "annotate", "report", "sample", "aggregate")
    for step in steps:
        for name in ("main.nf", "meta.yml", "environment.yml"):
            rel = f"modules/liverannot/liverannot/{step}/{name}"
            assert (repo / rel).read_bytes() == (ROOT / "modules" / "local" / step / name).read_bytes(), rel
            published.remove(rel)
    sw_main = (repo / "subworkflows/liverannot/liver_annotation/main.nf").read_text()
    own = (ROOT / "subworkflows/local/liver_annotation/main.nf").read_text()
    assert sw_main == own.replace("/modules/local/", "/modules/liverannot/liverannot/") and sw_main != own
    for include in re.findall(r"from '(\.\./\.\./\.\./modules/[^']+)'", sw_main):
        assert (repo / "subworkflows/liverannot/liver_annotation" / f"{include}.nf").resolve().is_file(), include
    assert (repo / "subworkflows/liverannot/liver_annotation/meta.yml").read_bytes() == \
        (ROOT / "subworkflows/local/liver_annotation/meta.yml").read_bytes()
    # the checksums of the subworkflow's modules hold for the published files
    check = subprocess.run(["sha256sum", "-c", "subworkflows/liverannot/liver_annotation/modules.sha256"],
                           cwd=repo, capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout.count(": OK") == 18, check.stdout + check.stderr
    for rel in ("subworkflows/liverannot/liver_annotation/main.nf", "subworkflows/liverannot/liver_annotation/meta.yml",
                "subworkflows/liverannot/liver_annotation/modules.sha256"):
        published.remove(rel)
    # the rest is the repository's own files, from components/
    own_files = {str(p.relative_to(ROOT / "components")) for p in (ROOT / "components").rglob("*") if p.is_file()}
    assert published == own_files
    assert "repository_type: modules" in (repo / ".nf-core.yml").read_text()
    # unchanged sources: no new commit; never over another repository
    again = subprocess.run([sys.executable, str(script), str(repo)], capture_output=True, text=True)
    assert again.stdout == first.stdout
    log = subprocess.run(["git", "-C", str(repo), "log", "--oneline"], capture_output=True, text=True).stdout
    assert len(log.splitlines()) == 1
    refused = subprocess.run([sys.executable, str(script), str(ROOT)], capture_output=True, text=True)
    assert refused.returncode != 0 and "not a components repository" in refused.stderr
