"""The samplesheet (CSV, header ``sample,input[,species]``), shared by ``liverannot run`` and the
Nextflow pipeline; its rules are those of ``assets/schema_input.json``."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import SamplesheetError

SPECIES = ("human", "mouse")
SAMPLE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass
class Sample:
    sample: str
    input: Path
    species: str | None
    line: int


def _decode(raw: bytes) -> str:
    """UTF-8 with or without the byte-order mark that Excel writes; else Windows-1252 (Excel's
    "CSV" on Windows), else Latin-1 (every byte is a character)."""
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")


def _delimiter(header: str) -> str:
    """',' as written; ';' or a tab when the header has no comma but one of those (spreadsheets save
    ';'-separated CSV where ',' is the decimal mark)."""
    if "," not in header:
        for sep in (";", "\t"):
            if sep in header:
                return sep
    return ","


def read_samplesheet(path: str | Path, *, check_files: bool = True) -> list[Sample]:
    """Parse and validate a samplesheet; report every problem at once, with line numbers.

    Read as spreadsheet programs save it: a byte-order mark, CRLF line ends, Windows-1252 text,
    ';' or tab separators, quoted cells, capitalised column names and empty trailing columns are
    all taken as meant."""
    path = Path(path)
    if not path.is_file():
        raise SamplesheetError(f"{path}: samplesheet not found.")
    text = _decode(path.read_bytes())
    if not text.strip():
        raise SamplesheetError(f"{path}: the samplesheet is empty; it needs a header "
                               f"'sample,input[,species]' and one row per sample.")
    lines = text.splitlines()   # LF, CRLF or CR line ends
    reader = csv.DictReader(lines, delimiter=_delimiter(lines[0]))
    reader.fieldnames = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    header = reader.fieldnames
    missing = [c for c in ("sample", "input") if c not in header]
    if missing:
        raise SamplesheetError(f"{path}: line 1: missing column(s) {', '.join(missing)}; the header must "
                               f"be 'sample,input[,species]' (found: {','.join(header)}).")
    problems: list[str] = []
    samples: list[Sample] = []
    seen: dict[str, int] = {}
    for i, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if not any(row.values()):
            continue
        name, inp, species = row.get("sample", ""), row.get("input", ""), row.get("species", "") or None
        if not name:
            problems.append(f"line {i}: empty sample name")
        elif not SAMPLE_RE.match(name):
            problems.append(f"line {i}: sample name {name!r} may hold only letters, digits, '_', '-', '.' "
                            f"(no spaces) and must start with a letter or digit")
        elif name in seen:
            problems.append(f"line {i}: duplicate sample name {name!r} (first on line {seen[name]})")
        else:
            seen[name] = i
        if not inp:
            problems.append(f"line {i}: empty input path")
        p = Path(inp)
        if inp and not p.is_absolute():
            p = (path.parent / p)
        if inp and check_files and not p.exists():
            problems.append(f"line {i}: input {inp!r} does not exist (paths are relative to the "
                            f"samplesheet's folder)")
        if species is not None and species not in SPECIES:
            problems.append(f"line {i}: unknown species {species!r}; use one of {', '.join(SPECIES)} "
                            f"or leave it empty to detect it")
        samples.append(Sample(name, p, species, i))
    if not samples and not problems:
        problems.append("no sample rows under the header")
    if problems:
        raise SamplesheetError(f"{path}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    return samples
