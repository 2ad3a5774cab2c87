"""Static checks of the Nextflow pipeline (no Nextflow runtime can run here):

- every .nf and .config file parses with Groovy 4;
- includes resolve to files that define what they include, and every process is reachable from main.nf;
- params used anywhere are declared in nextflow.config and nextflow_schema.json (and the reverse);
- contract: each module's real script block, with the ext.args of conf/modules.config and the test
  profile's params, is rendered by Groovy and run against the real CLI on the shipped test data, and
  the outputs its output: block declares must appear.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GROOVY_DIR = ROOT / ".cache" / "groovy"
JARS = [GROOVY_DIR / "groovy-4.0.26.jar", GROOVY_DIR / "groovy-json-4.0.26.jar"]
NF_FILES = sorted(p for p in ROOT.rglob("*.nf") if ".cache" not in p.parts and "work" not in p.parts)
CONFIG_FILES = [ROOT / "nextflow.config", *sorted((ROOT / "conf").glob("*.config"))]


def _groovy_available():
    return all(j.exists() for j in JARS) and shutil.which("java")


if not _groovy_available():
    reason = "Groovy 4 jars not in .cache/groovy (run scripts/get_groovy.sh; needs npm and java)"
    if os.environ.get("LIVERANNOT_REQUIRE_GROOVY"):
        raise RuntimeError(reason)
    pytestmark = pytest.mark.skip(reason=reason)


def groovy(script: Path, *args, stdin: str | None = None):
    cp = os.pathsep.join(str(j) for j in JARS)
    return subprocess.run(["java", "-cp", cp, "groovy.ui.GroovyMain", str(script), *map(str, args)],
                          input=stdin, capture_output=True, text=True, timeout=300)


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

def test_every_nextflow_file_parses_with_groovy4():
    r = groovy(ROOT / "tests" / "nextflow" / "parse.groovy", *NF_FILES, *CONFIG_FILES)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("OK ") == len(NF_FILES) + len(CONFIG_FILES)


def test_the_parser_can_fail(tmp_path):
    bad = tmp_path / "bad.nf"
    bad.write_text('process X {\n  script:\n  """\n  echo hi\n  ""\n}\n')
    r = groovy(ROOT / "tests" / "nextflow" / "parse.groovy", bad)
    assert r.returncode == 1 and "FAIL" in r.stdout


def _includes(f: Path):
    text = f.read_text()
    for m in re.finditer(r"include\s*\{([^}]*)\}\s*from\s*'([^']+)'", text):
        names = [n.strip().split(" as ")[0].strip() for n in m.group(1).split(";") if n.strip()]
        yield names, m.group(2), text


def test_includes_resolve_and_every_process_is_reachable():
    defined = {}
    for f in NF_FILES:
        for m in re.finditer(r"^(?:process|workflow)\s+(\w+)\s*\{", f.read_text(), re.M):
            defined[m.group(1)] = f
    reachable, todo, seen = set(), [ROOT / "main.nf"], set()
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        for names, target, text in _includes(f):
            if target.startswith("plugin/"):
                continue
            path = (f.parent / target).resolve()
            path = path if path.suffix == ".nf" else path.with_suffix(".nf")
            assert path.exists(), f"{f}: include from '{target}' does not resolve ({path})"
            body = path.read_text()
            for n in names:
                assert re.search(rf"^(process|workflow)\s+{n}\s*\{{", body, re.M), f"{f}: {n} not defined in {path}"
                uses = len(re.findall(rf"\b{n}\b\s*\(", text))
                assert uses >= 1, f"{f}: {n} is included but never called"
                reachable.add(n)
            todo.append(path)
    procs = set(processes())
    assert procs, "no processes found"
    assert procs <= reachable, f"processes not reachable from main.nf: {sorted(procs - reachable)}"


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
            if "default" in spec and k in declared:
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
    # every withName in modules.config names a real process
    names = set(re.findall(r"withName:\s*'(\w+)'", (ROOT / "conf" / "modules.config").read_text()))
    assert names <= set(processes()), names - set(processes())


def test_retry_on_out_of_memory_exit_codes():
    text = (ROOT / "conf" / "base.config").read_text()
    assert "task.exitStatus in ((130..145) + 104)" in text and "'retry'" in text
    assert re.search(r"memory\s*=\s*\{\s*\d+\.GB \* task\.attempt", text)


# ------------------------------------------------------------------------------------------
# contract: the commands the modules run, against the real CLI
# ------------------------------------------------------------------------------------------

def render(process: str, meta: dict, inputs: dict, params: dict) -> str:
    p = processes()[process]
    req = {"params": params, "meta": meta, "ext_args_closure": ext_args(process), "script": p["script"],
           "inputs": inputs, "process": process}
    r = groovy(ROOT / "tests" / "nextflow" / "render.groovy", stdin=json.dumps(req))
    assert r.returncode == 0, r.stderr
    return r.stdout


def output_globs(process: str) -> list[str]:
    return re.findall(r'path\(?\s*"([^"]+)"', processes()[process]["outputs"])


def run_task(process, workdir: Path, meta, staged: dict[str, Path], params) -> Path:
    """Stage inputs (symlinks named as Nextflow would), render the script, run it, check outputs."""
    workdir.mkdir(parents=True)
    names = {}
    for var, src in staged.items():
        if isinstance(src, list):  # a collection staged into a folder (stageAs: 'dir/*')
            d = workdir / var
            d.mkdir()
            for s in src:
                (d / s.name).symlink_to(s)
            names[var] = var
        else:
            (workdir / src.name).symlink_to(src)
            names[var] = src.name
    cmd = render(process, meta, names, params)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "MPLBACKEND": "Agg"}
    # Nextflow's default shell is bash -ue
    r = subprocess.run(["bash", "-ue", "-c", cmd], cwd=workdir, capture_output=True, text=True,
                       env=env, timeout=900)
    assert r.returncode == 0, f"{process} failed:\n$ {cmd}\n{r.stderr[-2000:]}"
    assert "here-document" not in r.stderr, r.stderr
    for g in output_globs(process):
        assert list(workdir.glob(g)), f"{process}: declared output {g!r} not produced by:\n$ {cmd}"
    versions = (workdir / "versions.yml").read_text()
    assert f'"{process}":' in versions and re.search(r":\s+\d+\.\d+", versions), versions
    return workdir


@pytest.fixture(scope="module")
def pipeline_params():
    params = params_of(ROOT / "nextflow.config")
    params.update(params_of(ROOT / "conf" / "test.config"))
    return params


def test_contract_every_module_command_runs_against_the_cli(tmp_path, pipeline_params):
    data = ROOT / "assets" / "test_data"
    summaries = []
    qc_filters = []
    for sample, inp in (("donor1", data / "donor1_10x"), ("donor2", data / "donor2.h5ad")):
        meta = {"id": sample, "species": "human" if sample == "donor1" else None}
        w = tmp_path / sample
        run_task("LIVERANNOT_QC", w / "qc", meta, {"input": inp}, pipeline_params)
        qc_filters += list((w / "qc").glob("*.qc.filters.csv"))
        prev = next((w / "qc").glob("*.qc.h5ad"))
        for proc, sub, glob in (("LIVERANNOT_NORMALIZE", "norm", "*.norm.h5ad"),
                                ("LIVERANNOT_CLUSTER", "cluster", "*.clustered.h5ad"),
                                ("LIVERANNOT_CLASSIFY", "classify", "*.classified.h5ad"),
                                ("LIVERANNOT_ANNOTATE", "annotate", "*.annotated.h5ad")):
            run_task(proc, w / sub, meta, {"h5ad": prev}, pipeline_params)
            prev = next((w / sub).glob(glob))
        run_task("LIVERANNOT_REPORT", w / "report", meta, {"h5ad": prev}, pipeline_params)
        summaries += list((w / "report").glob("*.summary.json"))
        import anndata as ad

        a = ad.read_h5ad(prev)
        assert {"liver_celltype", "liver_lineage", "liver_confidence", "liver_cluster_annotation"} <= set(a.obs)
    agg = run_task("LIVERANNOT_AGGREGATE", tmp_path / "aggregate", {}, {"summaries": summaries}, pipeline_params)
    mqc = sorted((agg / "multiqc_data_in").glob("*_mqc.tsv"))
    versions = tmp_path / "liverannot_software_mqc_versions.yml"
    versions.write_text('"LIVERANNOT_QC":\n    liverannot: 0.1.0\n')
    mq = run_task("MULTIQC", tmp_path / "multiqc", {}, {"multiqc_files": [*mqc, *qc_filters, versions],
                                                         "multiqc_config": ROOT / "assets" / "multiqc_config.yml"},
                  pipeline_params)
    html = next(mq.glob("*multiqc_report.html")).read_text()
    assert "liverannot_composition" in html and "liverannot_clusters" in html


def test_contract_breaks_on_a_renamed_option(tmp_path, pipeline_params):
    """The contract test can fail: an ext.args option the CLI does not have makes the command fail."""
    params = dict(pipeline_params, annotation_mode="majority")  # not a valid --mode choice
    data = ROOT / "assets" / "test_data"
    w = tmp_path / "w"
    w.mkdir()
    (w / "donor2.h5ad").symlink_to(data / "donor2.h5ad")
    cmd = render("LIVERANNOT_ANNOTATE", {"id": "x"}, {"h5ad": "donor2.h5ad"}, params)
    assert "--mode majority" in cmd
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    r = subprocess.run(["bash", "-ue", "-c", cmd], cwd=w, capture_output=True, text=True, env=env)
    assert r.returncode != 0 and "invalid choice" in r.stderr
