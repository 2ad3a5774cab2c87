import pytest

from liverannot.errors import SamplesheetError
from liverannot.samplesheet import read_samplesheet


def test_valid(tmp_path):
    (tmp_path / "a.h5ad").write_text("x")
    (tmp_path / "tenx").mkdir()
    s = tmp_path / "s.csv"
    s.write_text("sample,input,species\nA,a.h5ad,human\nB,tenx,\n")
    rows = read_samplesheet(s)
    assert [r.sample for r in rows] == ["A", "B"]
    assert rows[0].input == tmp_path / "a.h5ad"
    assert rows[0].species == "human" and rows[1].species is None


def test_all_problems_reported_with_line_numbers(tmp_path):
    (tmp_path / "a.h5ad").write_text("x")
    s = tmp_path / "s.csv"
    s.write_text("sample,input,species\nA,a.h5ad,human\nA,a.h5ad,human\nB,missing.h5ad,human\n"
                 "C,a.h5ad,zebrafish\nbad name,a.h5ad,\n")
    with pytest.raises(SamplesheetError) as e:
        read_samplesheet(s)
    msg = str(e.value)
    assert "4 problem(s)" in msg
    assert "line 3: duplicate sample name 'A' (first on line 2)" in msg
    assert "line 4: input 'missing.h5ad' does not exist" in msg
    assert "line 5: unknown species 'zebrafish'" in msg
    assert "line 6: sample name 'bad name'" in msg


def test_missing_columns(tmp_path):
    s = tmp_path / "s.csv"
    s.write_text("name,file\nA,a.h5ad\n")
    with pytest.raises(SamplesheetError, match="missing column.*sample, input"):
        read_samplesheet(s)


def test_empty(tmp_path):
    s = tmp_path / "s.csv"
    s.write_text("")
    with pytest.raises(SamplesheetError, match="empty"):
        read_samplesheet(s)
    s.write_text("sample,input\n")
    with pytest.raises(SamplesheetError, match="no sample rows"):
        read_samplesheet(s)


def test_schema_matches(tmp_path):
    """assets/schema_input.json (Nextflow) and the Python reader accept and refuse the same things."""
    import json
    from pathlib import Path

    import jsonschema

    schema_path = Path(__file__).resolve().parents[1] / "assets" / "schema_input.json"
    schema = json.loads(schema_path.read_text())
    item = schema["items"]
    assert set(item["required"]) == {"sample", "input"}
    good = {"sample": "A_1", "input": "a.h5ad", "species": "human"}
    jsonschema.validate([good], schema)
    for bad in ({"sample": "bad name", "input": "a.h5ad"}, {"sample": "A", "input": "a.h5ad", "species": "fish"},
                {"sample": "A"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate([bad], schema)
