"""Framework files: reading an uploaded framework (JSON or CSV) into framework data, with
every problem reported by row, and writing the template CSV.

Import formats. Both formats are checked with ``routines.content.validate_framework``;
every problem is reported, each naming its item or row, and nothing is imported
while there is any problem. Importing a key that already exists makes its next
version.

* JSON: the shape of ``routines/data/default_framework.json``: an object with
  ``key``, ``name``, ``version`` (any whole number >= 1, replaced on import),
  ``scale_max`` (12), ``age_bands`` (a list of ``{code, label, from_months,
  to_months}``) and ``items`` (a list of ``{code, domain, label, description,
  expected: {band code: score}}``).
* CSV (UTF-8, comma-separated, a header row then one row per item; the key and
  name of the framework are given separately, on the import form):

      code,domain,label,description,0-2m,2-6m,6-12m,1-2y,...,14-18y

  ``code`` (at most 20 characters, unique), ``domain`` (one of
  ``sensory_integration``, ``self_regulation``, ``relational``, ``cognitive``),
  ``label`` and ``description`` come first; every further column is an age band
  whose header is its code, written ``<from>-<to>m`` (months) or ``<from>-<to>y``
  (years): ``0-2m`` is birth to 2 months, ``4-6y`` is 4 to 6 years. The bands must
  be contiguous, start at 0 and end at 18 years. Each cell under a band is the
  whole-number expected score (0..12) for that item at that age. Rows are counted
  as a spreadsheet does: the header is row 1. ``template_csv`` writes the default
  framework in this format.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from routines import content
from tenants.errors import ValidationError

# --------------------------------------------------------------------------- errors and limits

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
CODE_MAX = 20
LABEL_MAX = 200
NAME_MAX = 200
CSV_FIXED_COLUMNS = ("code", "domain", "label", "description")
BAND_CODE_RE = re.compile(r"^(\d{1,3})-(\d{1,3})([my])$")


class FrameworkImportError(ValidationError):
    """The file could not be imported; ``problems`` lists every reason, each naming its row
    or item. Nothing was imported."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        super().__init__(
            f"The framework was not imported: {count} problem{'s' if count != 1 else ''}.",
            "file",
        )


def _length_problems(data: dict[str, Any], ref: Any = None) -> list[str]:
    """Limits of the database columns and the key's shape (validate_framework checks the rest).

    `ref(index, item)` names an item; by default as validate_framework does."""
    problems: list[str] = []
    key = data.get("key")
    if isinstance(key, str) and key.strip() and not KEY_RE.match(key):
        problems.append(
            "framework: key must be lowercase letters, digits and hyphens, starting with a "
            f"letter or digit, at most 63 characters (got {key!r})"
        )
    name = data.get("name")
    if isinstance(name, str) and len(name) > NAME_MAX:
        problems.append(f"framework: name must be at most {NAME_MAX} characters")
    items = data.get("items")
    for index, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict):
            continue
        where = ref(index, item) if ref else _item_ref(index, item)
        code, label = item.get("code"), item.get("label")
        if isinstance(code, str) and len(code) > CODE_MAX:
            problems.append(f"{where}: code must be at most {CODE_MAX} characters")
        if isinstance(label, str) and len(label) > LABEL_MAX:
            problems.append(f"{where}: label must be at most {LABEL_MAX} characters")
    return problems


def _item_ref(index: int, item: dict[str, Any]) -> str:
    code = item.get("code")
    return f"item {code}" if isinstance(code, str) and code.strip() else f"item #{index + 1}"


def check_framework(data: Any) -> list[str]:
    """Every problem with framework data: routines.content's validation plus column limits."""
    problems = content.validate_framework(data)
    if isinstance(data, dict):
        problems += _length_problems(data)
    return problems


# --------------------------------------------------------------------------- parsing


def decode_upload(raw: bytes) -> tuple[str | None, list[str]]:
    """UTF-8 text of an uploaded file (a byte-order mark is allowed), or the problem."""
    if not raw.strip():
        return None, ["the file is empty"]
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        return None, [
            f"the file is not UTF-8 text (undecodable byte at position {exc.start}); "
            "save it as UTF-8 and try again"
        ]


def parse_framework_json(text: str) -> tuple[dict[str, Any] | None, list[str]]:
    """Framework data from JSON text and every problem with it ([] means importable)."""
    if not text.strip():
        return None, ["the file is empty"]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, [f"line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})"]
    if not isinstance(data, dict):
        return None, ["the file must hold one JSON object (see the format below)"]
    return data, check_framework(data)


def band_from_code(code: str) -> dict[str, Any] | None:
    """An age band from a CSV header such as ``0-2m`` or ``4-6y``; None if malformed."""
    match = BAND_CODE_RE.match(code)
    if match is None:
        return None
    start, end, unit = int(match.group(1)), int(match.group(2)), match.group(3)
    factor, word = (1, "months") if unit == "m" else (12, "years")
    return {
        "code": code,
        "label": f"{start}–{end} {word}",
        "from_months": start * factor,
        "to_months": end * factor,
    }


def _score(cell: str) -> Any:
    text = cell.strip()
    try:
        return int(text)
    except ValueError:
        return text  # validate_framework reports it as not a whole number


def parse_framework_csv(
    text: str, *, key: str, name: str
) -> tuple[dict[str, Any] | None, list[str]]:
    """Framework data from CSV text (format in the module docstring) and every problem
    with it, each naming its row ([] means importable)."""
    if not text.strip():
        return None, ["the file is empty"]
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        return None, [f"the file is not readable as CSV ({exc})"]
    header = [cell.strip() for cell in rows[0]]
    problems: list[str] = []
    if [h.lower() for h in header[:4]] != list(CSV_FIXED_COLUMNS):
        problems.append(
            "row 1 (header): must start with the columns "
            f"{','.join(CSV_FIXED_COLUMNS)} (got {','.join(header[:4]) or 'nothing'})"
        )
    bands: list[dict[str, Any]] = []
    for column, code in enumerate(header[4:], start=5):
        band = band_from_code(code)
        if band is None:
            problems.append(
                f"row 1 (header): column {column} {code!r} is not an age band code "
                "such as 0-2m (months) or 4-6y (years)"
            )
        elif any(b["code"] == code for b in bands):
            problems.append(f"row 1 (header): age band {code} appears twice")
        else:
            bands.append(band)
    if len(header) <= 4:
        problems.append("row 1 (header): no age band columns after description")
    if problems:
        return None, problems

    data: dict[str, Any] = {
        "key": key,
        "name": name,
        "version": 1,
        "scale_max": content.SCALE_MAX,
        "age_bands": bands,
        "items": [],
    }
    item_rows: list[int] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank lines are ignored
        if len(row) != len(header):
            problems.append(f"row {number}: has {len(row)} cells, the header has {len(header)}")
            continue
        cells = [cell.strip() for cell in row]
        code, domain, label, description = cells[:4]
        data["items"].append(
            {
                "code": code,
                "domain": domain,
                "label": label,
                "description": description,
                "expected": {
                    band["code"]: _score(cell) for band, cell in zip(bands, row[4:], strict=True)
                },
            }
        )
        item_rows.append(number)
    if not data["items"]:
        problems.append("the file has a header but no items")
        return None, problems
    problems += _csv_problems(data, item_rows)
    return data, problems


def _csv_problems(data: dict[str, Any], item_rows: list[int]) -> list[str]:
    """validate_framework's findings, each item's problems named by its CSV row."""
    problems: list[str] = []
    seen: dict[str, int] = {}

    def ref(index: int, item: dict[str, Any]) -> str:
        code = item.get("code")
        return f"row {item_rows[index]} ({code or 'no code'})"

    for index, item in enumerate(data["items"]):
        where = ref(index, item)
        code = item["code"]
        if code and code in seen:
            problems.append(f"{where}: duplicate item code {code!r} (already on row {seen[code]})")
        elif code:
            seen[code] = item_rows[index]
        # One item at a time, so that each problem is tied to exactly one row.
        single = content.validate_framework({**data, "items": [item]})
        prefix = (f"item {code}" if code else "item #1 (no code)") + ": "
        problems += [f"{where}: {p[len(prefix) :]}" for p in single if p.startswith(prefix)]
    # Whole-framework problems (key, name, bands, domains); item problems are above.
    whole = content.validate_framework(data)
    problems += [p for p in whole if not p.startswith("item ")]
    problems += _length_problems(data, ref)
    return problems


def parse_upload(
    filename: str, raw: bytes, *, key: str | None = None, name: str | None = None
) -> tuple[dict[str, Any] | None, list[str]]:
    """Framework data from an uploaded .json or .csv file and every problem with it."""
    lowered = (filename or "").lower()
    if not lowered.endswith((".json", ".csv")):
        return None, ["the file must be a .csv or a .json file"]
    text, problems = decode_upload(raw)
    if text is None:
        return None, problems
    if lowered.endswith(".json"):
        return parse_framework_json(text)
    return parse_framework_csv(text, key=(key or "").strip(), name=(name or "").strip())


def template_csv(data: dict[str, Any] | None = None) -> str:
    """Framework data (by default Cadence's default framework) in the CSV import format."""
    data = data if data is not None else content.load_default_framework()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    codes = [band["code"] for band in data["age_bands"]]
    writer.writerow([*CSV_FIXED_COLUMNS, *codes])
    for item in data["items"]:
        writer.writerow(
            [
                item["code"],
                item["domain"],
                item["label"],
                item.get("description", ""),
                *(item["expected"][code] for code in codes),
            ]
        )
    return out.getvalue()
