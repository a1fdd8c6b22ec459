"""CSV import and export of customers and events, for a CX lead moving from a spreadsheet or
another CRM: good rows are kept, bad ones reported by line and field, and importing the same
file again changes nothing.

Python's csv module rather than django-import-export: its admin flow rejects a whole file for
one bad row, and it would be a second set of validation rules next to the API's.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.db.models import Model, QuerySet

from ..models import Customer, Event
from .common import MAX_FILE_BYTES, CsvFileInvalid, ImportReport, RowError, csv_text
from .customer_csv import customers_export_rows, customers_import_csv
from .event_csv import events_export_rows, events_import_csv


@dataclass(frozen=True)
class CsvFormat:
    name: str  # plural, the start of an export's file name
    import_csv: Callable[..., ImportReport]
    export_rows: Callable[[QuerySet], Iterator[list[str]]]
    # Importing customers updates known ones; importing events only ever adds (like POST /api/events/).
    import_permissions: tuple[str, ...]
    columns: str  # for the upload form's help


CSV_FORMATS: dict[type[Model], CsvFormat] = {
    Customer: CsvFormat(
        "customers",
        customers_import_csv,
        customers_export_rows,
        ("add", "change"),
        "external_id (required), name, email, phone, company, client_type (slug), lifecycle_stage, "
        "service_class, survey_consent (true/false), survey_consent_channel, language, "
        "and attr.<name> for each attribute",
    ),
    Event: CsvFormat(
        "events",
        events_import_csv,
        events_export_rows,
        ("add",),
        "customer_external_id and kind (required), occurred_at (ISO 8601), touchpoint (id), amount, "
        "external_id, and data.<name> for each data value",
    ),
}

__all__ = [
    "CSV_FORMATS",
    "MAX_FILE_BYTES",
    "CsvFileInvalid",
    "CsvFormat",
    "ImportReport",
    "RowError",
    "csv_text",
    "customers_export_rows",
    "customers_import_csv",
    "events_export_rows",
    "events_import_csv",
]
