"""What the customer and the event CSV formats share: reading an uploaded file, the import report,
and turning stored values into cells and back.

Files come from spreadsheets: Excel in a Russian locale saves Windows-1251 text separated by
semicolons, elsewhere UTF-8 (with a BOM) separated by commas; both are read without asking.
"""

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_REPORTED_ERRORS = 1000
ENCODINGS = ("utf-8-sig", "cp1251")
DELIMITERS = (",", ";", "\t")

# A cell starting with = + - @ (or a tab) is run as a formula when the file is opened in a spreadsheet
# (CSV injection), so exports put an apostrophe before it and imports take that apostrophe off.
# A leading + or - is left alone where the rest looks like a phone number or an amount.
# Apostrophes already there are kept by adding one more, so every value comes back as it was.
_FORMULA = re.compile(r"'*[=+\-@\t\r]")
_NUMBER_LIKE = re.compile(r"[+-][\d\s().,-]*")


class CsvFileInvalid(Exception):
    """The file as a whole cannot be read (size, encoding, header); reported under the field `file`."""


@dataclass
class RowError:
    line: int
    field: str
    message: str


@dataclass
class ImportReport:
    counted: tuple[str, ...]  # which counts this kind of import reports
    dry_run: bool = False
    total_rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    rejected: int = 0  # rows skipped for their errors
    errors: list[RowError] = field(default_factory=list)
    errors_truncated: bool = False

    def reject(self, line: int, errors: dict[str, Any]) -> None:
        self.rejected += 1
        for name, messages in errors.items():
            for message in messages if isinstance(messages, list | tuple) else [messages]:
                if len(self.errors) >= MAX_REPORTED_ERRORS:
                    # A wrong file can have an error on every one of 100,000 lines; the first
                    # thousand show what is wrong without a response of many megabytes.
                    self.errors_truncated = True
                    return
                self.errors.append(RowError(line=line, field=name, message=str(message)))

    def as_dict(self) -> dict[str, Any]:
        return {
            **{name: getattr(self, name) for name in self.counted},
            "rejected": self.rejected,
            "total_rows": self.total_rows,
            "dry_run": self.dry_run,
            "errors": [{"line": e.line, "field": e.field, "message": e.message} for e in self.errors],
            "errors_truncated": self.errors_truncated,
        }


@dataclass
class CsvRow:
    line: int  # of the file, counting the header as line 1
    values: dict[str, str]  # column -> stripped cell; a column the row stops short of is absent
    error: str | None = None


@dataclass
class CsvTable:
    columns: list[str]
    rows: list[CsvRow]


def _read_text(file: IO | bytes | str) -> str:
    if isinstance(file, bytes | bytearray | str):
        data = file
    else:
        size = getattr(file, "size", None)
        if size is not None and size > MAX_FILE_BYTES:
            raise CsvFileInvalid(_too_big())
        if hasattr(file, "seek"):
            file.seek(0)
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise CsvFileInvalid(_too_big())
    if isinstance(data, str):
        text = data
    else:
        for encoding in ENCODINGS:
            try:
                text = bytes(data).decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise CsvFileInvalid("The file is neither UTF-8 nor Windows-1251 text; save it as CSV UTF-8.")
    if "\x00" in text:
        raise CsvFileInvalid(
            "This is not a CSV text file (an Excel workbook or UTF-16 text?); "
            "in Excel use Save As, CSV UTF-8 (comma delimited)."
        )
    if not text.strip():
        raise CsvFileInvalid("The file is empty.")
    return text


def _too_big() -> str:
    return f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; split it into smaller files."


def read_table(
    file: IO | bytes | str, *, columns: tuple[str, ...], prefixes: tuple[str, ...], required: tuple[str, ...]
) -> CsvTable:
    """Read the whole file into rows keyed by column, or raise CsvFileInvalid.

    The whole file is read before anything is written, so a file that breaks off half-way
    (a stray quote) is refused as a whole rather than imported up to that line.
    """
    text = _read_text(file)
    first_line = next(line for line in text.splitlines() if line.strip())
    # Column names never hold a delimiter, so the header tells which one the file uses.
    delimiter = max(DELIMITERS, key=first_line.count) if any(d in first_line for d in DELIMITERS) else ","
    # Strict: a quote left open would otherwise swallow every line after it into one cell.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(row for row in reader if any(cell.strip() for cell in row))
        names = _check_header(header, columns=columns, prefixes=prefixes, required=required)
        rows = []
        line = reader.line_num + 1
        for cells in reader:
            if any(cell.strip() for cell in cells):
                rows.append(_row(line, names, cells))
            line = reader.line_num + 1  # a quoted cell may span lines: a row starts after the last
    except csv.Error as exc:
        raise CsvFileInvalid(f"Line {reader.line_num} cannot be read as CSV: {exc}.") from exc
    return CsvTable(columns=[n for n in names if n], rows=rows)


def _check_header(
    header: list[str], *, columns: tuple[str, ...], prefixes: tuple[str, ...], required: tuple[str, ...]
) -> list[str]:
    names = []
    for cell in header:
        name = cell.strip()
        prefix = next((p for p in prefixes if name.lower().startswith(p)), None)
        names.append(prefix + name[len(prefix) :].strip() if prefix else name.lower())
    known = [n for n in names if n in columns or any(n.startswith(p) for p in prefixes)]
    example = ",".join(columns[:3])
    if not known:
        raise CsvFileInvalid(
            f"The first line must be the header naming the columns (e.g. {example}); "
            f"it reads {','.join(header)[:200]!r}."
        )
    unknown = [n for n in names if n and n not in known]
    bare = [p for p in prefixes if p in names]
    if unknown or bare:
        extra = ", ".join(f"{p}<name>" for p in prefixes)
        raise CsvFileInvalid(
            f"Unknown column(s): {', '.join(unknown + bare)}. The columns are: {', '.join(columns)}, "
            f"and {extra} columns."
        )
    repeated = sorted({n for n in names if n and names.count(n) > 1})
    if repeated:
        raise CsvFileInvalid(f"Column(s) named more than once in the header: {', '.join(repeated)}.")
    missing = [c for c in required if c not in names]
    if missing:
        raise CsvFileInvalid(f"The header has no {', '.join(missing)} column; it is required.")
    return names


def _row(line: int, names: list[str], cells: list[str]) -> CsvRow:
    if len(cells) > len(names):
        return CsvRow(
            line,
            {},
            f"This line has {len(cells)} values but the header names {len(names)} columns; "
            "is a value holding the delimiter not in quotes?",
        )
    values = {}
    for name, cell in zip(names, cells, strict=False):
        value = unescape_cell(cell.strip())
        if name:
            values[name] = value
        elif value:  # Excel adds unnamed empty columns at the end; data in one is a mistake
            return CsvRow(line, {}, "This line has a value in a column the header gives no name.")
    return CsvRow(line, values)


def unescape_cell(cell: str) -> str:
    return cell[1:] if cell[:1] == "'" and _FORMULA.match(cell, 1) else cell


def escape_cell(cell: str) -> str:
    if _FORMULA.match(cell) and (cell[0] == "'" or not _NUMBER_LIKE.fullmatch(cell)):
        return "'" + cell
    return cell


def json_cell(value: Any) -> str:
    """A value of a JSON object (attributes, event data) as a cell: text as is, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def parse_json_cell(cell: str) -> Any:
    """A cell of an attr.* or data.* column: a number, true, false or null written exactly as JSON
    writes it becomes that value (so segment rules can compare numbers); anything else is text,
    so "007" or "1e3" stay as typed."""
    try:
        value = json.loads(cell)
    except ValueError:
        return cell
    if isinstance(value, str | list | dict) or json.dumps(value) != cell:
        return cell
    return value


def chunked(values: list, size: int) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_text(rows: Iterable[list[str]], *, rows_per_chunk: int = 500) -> Iterator[str]:
    """The rows as CSV text in chunks, for a streaming response.

    Starts with a BOM: Excel reads a UTF-8 file without one as the local code page, turning
    Cyrillic names into mojibake; the import strips it again.
    """
    writer = csv.writer(_Echo())
    buffer = ["\ufeff"]
    for row in rows:
        buffer.append(writer.writerow([escape_cell(cell) for cell in row]))
        if len(buffer) >= rows_per_chunk:
            yield "".join(buffer)
            buffer = []
    if buffer:
        yield "".join(buffer)


def json_keys(queryset, field: str) -> list[str]:
    """Every key used in a JSON-object column across the queryset, sorted: the export's extra
    columns (attr.* for customers, data.* for events)."""
    keys: set[str] = set()
    for value in queryset.order_by().values_list(field, flat=True).iterator(chunk_size=2000):
        if isinstance(value, dict):
            keys.update(value)
    return sorted(keys)
