"""Events from and to CSV: one row per event, its customer named by customer_external_id.

Rows are checked by event_ingest.parse_events, as the API's bulk ingest is, and stored by
services.events_record, which skips an event whose external_id is stored already: importing a
file again adds nothing for the rows that carry an external_id.
"""

from collections.abc import Iterator
from typing import IO

from django.db.models import QuerySet

from .. import services
from ..event_ingest import EventBatchInvalid, parse_events
from ..models import Event
from .common import ImportReport, chunked, json_cell, json_keys, parse_json_cell, read_table

COLUMNS = ("customer_external_id", "kind", "occurred_at", "touchpoint", "amount", "external_id")
REQUIRED = ("customer_external_id", "kind")
DATA = "data."


def events_import_csv(*, file: IO | bytes | str, dry_run: bool = False, by=None) -> ImportReport:
    """Store the good rows' events (all in one transaction), skip and report the bad rows.

    `by` is accepted so customers and events import alike; events do not record who sent them.
    Raises CsvFileInvalid when the file as a whole cannot be read; then nothing is written.
    """
    table = read_table(file, columns=COLUMNS, prefixes=(DATA,), required=REQUIRED)
    report = ImportReport(counted=("created", "duplicates"), dry_run=dry_run)
    report.total_rows = len(table.rows)
    lines: list[int] = []
    items: list[dict] = []
    first_line: dict[str, int] = {}
    for row in table.rows:
        if row.error:
            report.reject(row.line, {"non_field_errors": [row.error]})
            continue
        missing = {name: ["This field is required."] for name in REQUIRED if not row.values.get(name)}
        if missing:
            report.reject(row.line, missing)
            continue
        # parse_events would name the repeat by its position in the batch; a file names lines.
        external_id = row.values.get("external_id")
        if external_id and external_id in first_line:
            report.reject(
                row.line, {"external_id": [f"Repeats the external id of line {first_line[external_id]}."]}
            )
            continue
        if external_id:
            first_line[external_id] = row.line
        lines.append(row.line)
        items.append(_item(row.values))

    try:
        events = parse_events(items)
    except EventBatchInvalid as exc:
        for position, errors in sorted(exc.errors.items()):
            report.reject(lines[position], errors)
        # The rest parse alone as they did in the batch: no check of one event looks at another
        # but the repeated external id, ruled out above.
        events = parse_events([item for position, item in enumerate(items) if position not in exc.errors])

    if dry_run:
        keyed = [e.external_id for e in events if e.external_id]
        stored = set()
        for chunk in chunked(keyed, 900):  # SQLite caps the number of query parameters
            stored.update(Event.objects.filter(external_id__in=chunk).values_list("external_id", flat=True))
        report.duplicates = len(stored)
        report.created = len(events) - report.duplicates
    elif events:
        result = services.events_record(events=events)
        report.created, report.duplicates = result.created, result.duplicates
    return report


def _item(values: dict[str, str]) -> dict:
    # A blank cell is "not given": parse_events then applies its defaults (occurred_at: now).
    item: dict = {name: cell for name, cell in values.items() if cell != "" and not name.startswith(DATA)}
    item["data"] = {
        name[len(DATA) :]: parse_json_cell(cell)
        for name, cell in values.items()
        if name.startswith(DATA) and cell != ""
    }
    return item


EXPORT_FIELDS = ("customer__external_id", "kind", "occurred_at", "touchpoint_id", "amount", "external_id")


def events_export_rows(queryset: QuerySet[Event]) -> Iterator[list[str]]:
    """The header, then one row per event in the queryset's order; times in UTC, ISO 8601."""
    data_keys = json_keys(queryset, "data")
    yield [*COLUMNS, *(DATA + key for key in data_keys)]
    rows = queryset.values_list(*EXPORT_FIELDS, "data").iterator(chunk_size=2000)
    for customer_external_id, kind, occurred_at, touchpoint_id, amount, external_id, data in rows:
        data = data if isinstance(data, dict) else {}
        yield [
            customer_external_id or "",
            kind,
            occurred_at.isoformat(),
            "" if touchpoint_id is None else str(touchpoint_id),
            "" if amount is None else str(amount),
            external_id or "",
            *(json_cell(data[key]) if key in data else "" for key in data_keys),
        ]
