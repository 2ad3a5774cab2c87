#!/usr/bin/env python3
"""Publish liverannot's Nextflow modules and the LIVER_ANNOTATION subworkflow as an nf-core
components repository (a git repository that `nf-core modules|subworkflows --git-remote <url>
install` reads), from the pipeline's own files.

    python3 scripts/components_repo.py DIR      # make or update the git repository DIR, one commit

One copy of each component: the pipeline's modules/local/<step>/ and
subworkflows/local/liver_annotation/ are copied byte for byte to
modules/liverannot/liverannot/<step>/ and subworkflows/liverannot/liver_annotation/ (nf-core tools
names a process LIVERANNOT_QC the module liverannot/qc of the organisation liverannot); the one
rewrite is the subworkflow's include paths (modules/local/ -> modules/liverannot/liverannot/), and
the subworkflow's folder gains modules.sha256 (the checksums of its modules' files). The
repository's own files (.nf-core.yml, the meta.yml and environment.yml schemas, the Nextflow
config nf-core tools reads from tests/config/) come from components/ in this repository. Running it
again after a change commits the change, which `nf-core subworkflows update` in a host pipeline
then picks up. Prints the commit's SHA.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORG = "liverannot"
# the processes are LIVERANNOT_<STEP>: nf-core tools names them tool/subtool (liverannot/qc) and
# looks for them in modules/<org>/liverannot/<step>/
TOOL = "liverannot"
# the modules a host pipeline installs: the steps, the whole chain of a sample in one task (sample) and
# the cohort step; the pipeline's MultiQC module is left out (hosts have nf-core/multiqc, and
# liverannot's only adds the image's MultiQC)
MODULES = ("qc", "normalize", "cluster", "classify", "annotate", "report", "sample", "aggregate")
SUBWORKFLOWS = ("liver_annotation",)
# the branch of github.com/liverannot/liverannot that holds the published components (README "Use it
# in your pipeline"); a new repository starts on it
BRANCH = "components"
CHECKSUMS = "modules.sha256"
COMPONENT_FILES = ("main.nf", "meta.yml", "environment.yml")


def rewrite_includes(text: str) -> str:
    """The subworkflow's includes of the pipeline's local modules, as installed by nf-core tools."""
    return text.replace("/modules/local/", f"/modules/{ORG}/{TOOL}/")


def git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "liverannot", "GIT_AUTHOR_EMAIL": "liverannot@users.noreply.github.com",
           "GIT_COMMITTER_NAME": "liverannot", "GIT_COMMITTER_EMAIL": "liverannot@users.noreply.github.com",
           "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(repo)}
    r = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"components_repo: git {' '.join(args)} failed: {r.stderr.strip()}")
    return r.stdout.strip()


def source_commit() -> str:
    r = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else "unknown"


def files(source: Path = ROOT) -> dict[str, bytes]:
    """Every file of the components repository, by its path there, from the pipeline in `source`."""
    out: dict[str, bytes] = {}
    for src in sorted((source / "components").rglob("*")):
        if src.is_file():
            out[str(src.relative_to(source / "components"))] = src.read_bytes()
    for step in MODULES:
        for name in COMPONENT_FILES:
            out[f"modules/{ORG}/{TOOL}/{step}/{name}"] = (source / "modules" / "local" / step / name).read_bytes()
    for sw in SUBWORKFLOWS:
        main_nf = (source / "subworkflows" / "local" / sw / "main.nf").read_text()
        out[f"subworkflows/{ORG}/{sw}/main.nf"] = rewrite_includes(main_nf).encode()
        out[f"subworkflows/{ORG}/{sw}/meta.yml"] = (source / "subworkflows" / "local" / sw / "meta.yml").read_bytes()
        out[f"subworkflows/{ORG}/{sw}/{CHECKSUMS}"] = checksums(out, included_modules(main_nf)).encode()
    return out


def included_modules(main_nf: str) -> list[str]:
    """The pipeline's local modules a subworkflow includes, by step (qc, classify, ...)."""
    steps = re.findall(r"from\s+'\.\./\.\./\.\./modules/local/(\w+)/main'", main_nf)
    unknown = sorted(set(steps) - set(MODULES))
    if unknown:
        sys.exit(f"components_repo: the subworkflow includes modules that are not published: {unknown}")
    return steps


def checksums(content: dict[str, bytes], steps: list[str]) -> str:
    """sha256sum lines of the module files a subworkflow was published with (paths as installed).

    nf-core tools updates a subworkflow when its own folder changes; this file changes with any of
    its modules, so `nf-core subworkflows update --update-deps` follows a module's change too, and
    `sha256sum -c` in the host pipeline's folder tells whether the installed modules are these."""
    lines = []
    for step in steps:
        for name in COMPONENT_FILES:
            rel = f"modules/{ORG}/{TOOL}/{step}/{name}"
            lines.append(f"{hashlib.sha256(content[rel]).hexdigest()}  {rel}\n")
    return "".join(lines)


def publish(repo: Path, message: str | None = None, branch: str = BRANCH, source: Path = ROOT) -> str:
    content = files(source)
    repo.mkdir(parents=True, exist_ok=True)
    if not (repo / ".git").exists():
        if any(repo.iterdir()):
            sys.exit(f"components_repo: {repo} is neither empty nor a git repository")
        git(repo, "init", "-q", "-b", branch)
    tracked = git(repo, "ls-files").splitlines()
    if tracked and "repository_type: modules" not in _read(repo / ".nf-core.yml"):
        # every tracked file is replaced: never do that to another repository (this one, say)
        sys.exit(f"components_repo: {repo} is a git repository but not a components repository "
                 "(no .nf-core.yml with repository_type: modules); give a new folder")
    for old in tracked:
        (repo / old).unlink(missing_ok=True)
    for rel, data in content.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    git(repo, "add", "-A")
    if git(repo, "status", "--porcelain"):
        git(repo, "commit", "-q", "-m", message or f"liverannot components from liverannot {source_commit()}")
    return git(repo, "rev-parse", "HEAD")


def _read(path: Path) -> str:
    return path.read_text() if path.is_file() else ""


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("repo", type=Path, help="the components repository to make or update (a git folder)")
    p.add_argument("-m", "--message", help="commit message (default: names the source commit)")
    p.add_argument("-b", "--branch", default=BRANCH, help=f"branch of a new repository (default: {BRANCH})")
    p.add_argument("--source", type=Path, default=ROOT,
                   help="the pipeline whose components are published (default: this repository)")
    args = p.parse_args(argv)
    source = args.source.resolve()
    missing = [str(source / d) for d in ("components", "modules/local", "subworkflows/local") if not (source / d).is_dir()]
    if missing:
        sys.exit(f"components_repo: {source} is not a liverannot pipeline folder (missing {', '.join(missing)})")
    print(publish(args.repo.resolve(), args.message, args.branch, source))


if __name__ == "__main__":
    main()
