"""liverannot's nf-core components repository, published by scripts/components_repo.py and served
over HTTP on localhost, where a pipeline developer's nf-core tools would reach GitHub
(tests/test_nf_core_lint.py lints it; tests/test_pipeline_runs.py installs it into a host pipeline).

nf-core tools clones a `--git-remote` into ~/.config/nfcore/<path of the URL>; a local path would
make that the repository itself, so the repository is served as a URL (git's dumb HTTP protocol:
a bare clone with `git update-server-info`, files served by http.server).
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NF_CORE = ROOT / ".cache" / "nf-core-venv" / "bin" / "nf-core"
NEXTFLOW_DIR = ROOT / ".cache" / "nextflow"
BRANCH = "components"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class ComponentsRemote:
    """A components repository made from `source` (a liverannot pipeline folder) in `base`, served
    at self.url. publish() again after a change; close() stops the server."""

    def __init__(self, base: Path, source: Path = ROOT):
        self.work = base / "components"
        www = base / "www"
        self.bare = www / "liverannot" / "liverannot.git"
        self.bare.parent.mkdir(parents=True)
        handler = functools.partial(_QuietHandler, directory=str(www))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/liverannot/liverannot.git"
        self.sha = self.publish(source)

    def publish(self, source: Path = ROOT, message: str | None = None) -> str:
        cmd = [sys.executable, str(ROOT / "scripts" / "components_repo.py"), str(self.work), "--source", str(source)]
        if message:
            cmd += ["-m", message]
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        sha = r.stdout.split()[-1]
        if not self.bare.exists():
            _git("clone", "-q", "--bare", str(self.work), str(self.bare))
        else:
            _git("-C", str(self.work), "push", "-q", str(self.bare), BRANCH)
        _git("-C", str(self.bare), "update-server-info")
        self.sha = sha
        return sha

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def copy_sources(dest: Path) -> Path:
    """The folders of this pipeline that scripts/components_repo.py publishes, copied to `dest` to be
    changed there (links followed: the modules' environment.yml becomes a file)."""
    for folder in ("components", "modules", "subworkflows"):
        shutil.copytree(ROOT / folder, dest / folder)
    return dest


def _git(*args: str) -> None:
    r = subprocess.run(["git", *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def nf_core_env(home: Path) -> dict:
    """nf-core tools with its own HOME (its clone cache), the pinned Nextflow on PATH, no progress bars."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NXF_")}
    home.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), PATH=f"{NEXTFLOW_DIR}{os.pathsep}{env['PATH']}", NXF_HOME=str(NEXTFLOW_DIR / "home"),
               HIDE_PROGRESS="1", GIT_AUTHOR_NAME="test", GIT_AUTHOR_EMAIL="test@localhost",
               GIT_COMMITTER_NAME="test", GIT_COMMITTER_EMAIL="test@localhost")
    return env


def lint(remote: ComponentsRemote, home: Path) -> dict:
    """`nf-core modules lint --all` and `nf-core subworkflows lint --all` on the published repository,
    through nf-core tools' Python API (its CLI writes no machine-readable report for components):
    {"modules"|"subworkflows": {"passed"|"warned"|"failed": [[component, test, subtest, message]]}}."""
    import json

    driver = Path(__file__).with_name("nf_core_lint_components.py")
    r = subprocess.run([str(NF_CORE.parent / "python"), str(driver), str(remote.work), remote.url, BRANCH],
                       capture_output=True, text=True, env=nf_core_env(home), cwd=remote.work, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return json.loads(r.stdout)
