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


def _as_nf_schema_reads(value: str):
    """A CSV cell as nf-schema (Types.inferType -> org.json's JSONObject.stringToValue) hands it to
    the validator: empty -> absent, true/false -> booleans, a valid JSON number -> a number (a
    leading zero, as in 007, is not one), anything else stays a string."""
    import json

    if value == "":
        return None
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    try:
        number = json.loads(value)
    except ValueError:
        return value
    return number if isinstance(number, (int, float)) else value


def test_digit_only_sample_names_pass_the_pipelines_schema_as_they_pass_liverannot_run(tmp_path):
    """nf-schema casts "123" to an integer before validating the samplesheet: the schema must take
    it, as `liverannot run` does (the pipeline turns meta.id back into the string "123")."""
    import json
    from pathlib import Path

    import jsonschema

    (tmp_path / "a.h5ad").write_bytes(b"x")
    sheet = tmp_path / "s.csv"
    sheet.write_text("sample,input,species\n123,a.h5ad,human\n007,a.h5ad,\nliver_2,a.h5ad,mouse\n")
    assert [s.sample for s in read_samplesheet(sheet)] == ["123", "007", "liver_2"]
    schema = json.loads((Path(__file__).resolve().parents[1] / "assets" / "schema_input.json").read_text())
    header, *rows = [line.split(",") for line in sheet.read_text().splitlines()]
    items = [{k: v for k, v in zip(header, map(_as_nf_schema_reads, row)) if v is not None} for row in rows]
    assert items[0]["sample"] == 123 and items[1]["sample"] == "007"
    jsonschema.validate(items, schema)
    for bad in (1.5, True, "bad name"):   # a decimal would come back as another name: refused
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate([{"sample": bad, "input": "a.h5ad"}], schema)


@pytest.mark.parametrize("habit", ["bom_crlf", "semicolons", "tabs", "capitalised_header", "windows_1252",
                                   "quoted_and_trailing_columns"])
def test_samplesheets_saved_by_spreadsheet_programs_read_as_meant(tmp_path, habit):
    """Excel and LibreOffice save CSV with a UTF-8 byte-order mark and CRLF line ends, with ';' (in
    locales where ',' is the decimal mark) or tabs, in Windows-1252, with quotes and empty columns."""
    (tmp_path / "a.h5ad").write_text("x")
    (tmp_path / "café.h5ad").write_text("x")
    rows = [("sample", "input", "species"), ("A", "a.h5ad", "human"), ("B", "café.h5ad", "")]
    sep, encoding, newline = ",", "utf-8", "\n"
    if habit == "bom_crlf":
        encoding, newline = "utf-8-sig", "\r\n"
    elif habit == "semicolons":
        sep = ";"
    elif habit == "tabs":
        sep = "\t"
    elif habit == "capitalised_header":
        rows[0] = ("Sample", "Input", "Species")
    elif habit == "windows_1252":
        encoding, newline = "cp1252", "\r\n"
    text = newline.join(sep.join(r) for r in rows) + newline
    if habit == "quoted_and_trailing_columns":
        text = 'sample,input,species,,\n"A","a.h5ad","human",,\n"B","café.h5ad","",,\n,,,,\n'
    s = tmp_path / "s.csv"
    s.write_bytes(text.encode(encoding))
    got = read_samplesheet(s)
    assert [(r.sample, r.input.name, r.species) for r in got] == [("A", "a.h5ad", "human"), ("B", "café.h5ad", None)]


def test_invisible_characters_in_names_are_stripped_or_named(tmp_path):
    """A no-break space (whitespace, as spreadsheets pad cells) is stripped like a space; a
    zero-width space is not whitespace and is named in the message, escaped so it can be seen."""
    (tmp_path / "a.h5ad").write_text("x")
    s = tmp_path / "s.csv"
    s.write_text("sample,input\nA\u00a0,a.h5ad\n")
    assert [r.sample for r in read_samplesheet(s)] == ["A"]
    s.write_text("sample,input\nB\u200b,a.h5ad\n")
    with pytest.raises(SamplesheetError) as e:
        read_samplesheet(s)
    assert "line 2" in str(e.value) and "'B\\u200b'" in str(e.value)
