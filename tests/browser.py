"""Render a local HTML page in headless Chromium (Debian's chromium) as a person opens it: the DOM
after its scripts ran, and every console message (errors included)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# flags of a closed network: no background connections, no component updates
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--log-level=0", "--virtual-time-budget=20000"]


def needs_chromium():
    reason = "Chromium not installed (apt-get install chromium)"
    if CHROMIUM is None and os.environ.get("LIVERANNOT_REQUIRE_BROWSER"):
        raise RuntimeError(reason)
    return pytest.mark.skipif(CHROMIUM is None, reason=reason)


def render(page: Path) -> tuple[str, list[str]]:
    """(DOM after the page's scripts ran, console messages)."""
    with tempfile.TemporaryDirectory() as profile:
        r = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.resolve().as_uri()],
                           capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    console = [m.group(1) for m in re.finditer(r":CONSOLE(?:\(\d+\)|:\d+)\] (.*)", r.stderr)]
    return r.stdout, console


def section_titles(dom: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", t).strip() for t in re.findall(r"<h2[^>]*>(.*?)</h2>", dom, re.S)]


def rendered_plot_ids(dom: str) -> set[str]:
    """Ids of the plot containers that hold a drawn Plotly figure (an svg of class main-svg)."""
    ids = set()
    for m in re.finditer(r'<div[^>]*id="([^"]+)"[^>]*class="[^"]*js-plotly-plot|'
                         r'<div[^>]*class="[^"]*js-plotly-plot[^"]*"[^>]*id="([^"]+)"', dom):
        start = m.start()
        if 'class="main-svg"' in dom[start:start + 20000]:
            ids.add(m.group(1) or m.group(2))
    return ids
