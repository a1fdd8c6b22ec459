"""Customers from and to CSV: one row per customer, matched on external_id.

A row is checked by the API's CustomerSerializer, so a file and the API accept the same values
with the same messages, and written by customer_create / customer_update, so a stage set by a
file is recorded in the funnel like any other.
"""

import copy
import functools
from collections.abc import Iterator
from contextlib import nullcontext
from typing import IO

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.db.models import QuerySet
from rest_framework import serializers

from .. import services
from ..models import ClientType, Customer
from .common import ImportReport, chunked, json_cell, json_keys, parse_json_cell, read_table

# The service's customer fields, external_id first (it keys re-imports); attributes travel as
# attr.<name> columns instead of one JSON cell.
COLUMNS = ("external_id", *(f for f in services.CUSTOMER_FIELDS if f not in ("external_id", "attributes")))
ATTR = "attr."
# A blank cell in these columns means "not given" (the default for a new customer, the stored
# value for a known one): spreadsheets leave them blank far more often than they mean to unset one.
DEFAULTED = frozenset(
    {"lifecycle_stage", "service_class", "survey_consent", "survey_consent_channel", "language"}
)
# Rows are committed in chunks, each row inside a savepoint of its own: a bad row still undoes
# only itself, and a big file does not pay for a commit (an fsync) per customer.
ROWS_PER_TRANSACTION = 500


def customers_import_csv(*, file: IO | bytes | str, dry_run: bool = False, by=None) -> ImportReport:
    """Create or update a customer per good row, skip and report the bad ones.

    Raises CsvFileInvalid when the file as a whole cannot be read; then nothing is written.
    """
    table = read_table(file, columns=COLUMNS, prefixes=(ATTR,), required=("external_id",))
    report = ImportReport(counted=("created", "updated", "unchanged"), dry_run=dry_run)
    report.total_rows = len(table.rows)
    checker = _RowChecker({"client_types": {t.slug: t for t in ClientType.objects.all()}})
    first_line: dict[str, int] = {}
    for chunk in chunked(table.rows, ROWS_PER_TRANSACTION):
        wanted = [row.values["external_id"] for row in chunk if row.values.get("external_id")]
        stored = {c.external_id: c for c in Customer.objects.filter(external_id__in=wanted)}
        # A dry run writes nothing, so it takes no write lock (SQLite's transactions are IMMEDIATE).
        with nullcontext() if dry_run else transaction.atomic():
            for row in chunk:
                external_id = row.values.get("external_id", "")
                if row.error:
                    report.reject(row.line, {"non_field_errors": [row.error]})
                elif not external_id:
                    report.reject(row.line, {"external_id": ["This field is required: imports match on it."]})
                elif external_id in first_line:
                    repeated = f"Repeats the external id of line {first_line[external_id]}."
                    report.reject(row.line, {"external_id": [repeated]})
                else:
                    first_line[external_id] = row.line
                    customer = stored.get(external_id)
                    serializer = checker.aim(customer, _row_data(row.values, customer))
                    if serializer.is_valid():
                        _store(row.line, customer, serializer.validated_data, report, dry_run=dry_run, by=by)
                    else:
                        report.reject(row.line, serializer.errors)
    return report


@functools.cache
def _row_serializer_class():
    from ..api import CustomerSerializer  # not at the top: customers.api imports this package

    class CachedSlugField(serializers.SlugRelatedField):
        def to_internal_value(self, data):
            try:
                return self.context["client_types"][str(data)]
            except KeyError:
                self.fail("does_not_exist", slug_name=self.slug_field, value=str(data))

    class CsvCustomerSerializer(CustomerSerializer):
        """The API's serializer, less two queries a row: client types are read once per file, and
        the external id's uniqueness is left to the lookup by it and to the services' full_clean()."""

        client_type = CachedSlugField(
            slug_field="slug", queryset=ClientType.objects.all(), required=False, allow_null=True
        )

        class Meta(CustomerSerializer.Meta):
            extra_kwargs = {"external_id": {"validators": []}}

    return CsvCustomerSerializer


class _RowChecker:
    """One serializer for the whole file, aimed at each row in turn: building a ModelSerializer's
    fields (or deep-copying built ones) costs more than checking the row itself."""

    def __init__(self, context: dict):
        self.serializer = _row_serializer_class()(context=context)

    def aim(self, customer: Customer | None, data: dict):
        serializer = self.serializer
        serializer.instance, serializer.partial, serializer.initial_data = (
            customer,
            customer is not None,
            data,
        )
        for outcome in ("_validated_data", "_errors", "_data"):  # what is_valid() kept from the last row
            serializer.__dict__.pop(outcome, None)
        return serializer


def _row_data(values: dict[str, str], customer: Customer | None) -> dict:
    data = {}
    for column in COLUMNS:
        if column in values and not (values[column] == "" and column in DEFAULTED):
            data[column] = values[column]
    cells = {name[len(ATTR) :]: cell for name, cell in values.items() if name.startswith(ATTR)}
    if cells:
        # attr.* columns change the attributes they name; the customer keeps any others.
        attributes = dict(customer.attributes) if customer and isinstance(customer.attributes, dict) else {}
        for key, cell in cells.items():
            if cell == "":
                attributes.pop(key, None)
            elif not (key in attributes and json_cell(attributes[key]) == cell):  # as exported: keep type
                attributes[key] = parse_json_cell(cell)
        data["attributes"] = attributes
    return data


def _store(
    line: int, customer: Customer | None, data: dict, report: ImportReport, *, dry_run: bool, by
) -> None:
    if customer is not None and all(_same(customer, name, value) for name, value in data.items()):
        report.unchanged += 1  # not saved: updated_at and the stage history stay as they are
        return
    try:
        if dry_run:
            # The model's own checks, which the services run before saving, on a copy; less the
            # queries: the client type was read from the table, the external id looked up by.
            candidate = copy.copy(customer) if customer else Customer()
            for name, value in data.items():
                setattr(candidate, name, value)
            candidate.full_clean(exclude=["client_type"], validate_unique=False)
        # The services are atomic: inside the chunk's transaction each is a savepoint of its own.
        elif customer is None:
            services.customer_create(data=data, by=by)
        else:
            services.customer_update(customer=customer, data=data, by=by)
    except ValidationError as exc:
        report.reject(
            line, exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return
    except DatabaseError as exc:  # e.g. the same external id stored by someone else meanwhile
        report.reject(line, {"non_field_errors": [f"Could not be stored ({exc}); import the file again."]})
        return
    if customer is None:
        report.created += 1
    else:
        report.updated += 1


def _same(customer: Customer, name: str, value) -> bool:
    if name == "client_type":  # by id, without loading the stored one
        return customer.client_type_id == (value.pk if value else None)
    return getattr(customer, name) == value


EXPORT_FIELDS = tuple("client_type__slug" if c == "client_type" else c for c in COLUMNS)


def customers_export_rows(queryset: QuerySet[Customer]) -> Iterator[list[str]]:
    """The header, then one row per customer, in the queryset's order; imports back unchanged."""
    attribute_keys = json_keys(queryset, "attributes")
    yield [*COLUMNS, *(ATTR + key for key in attribute_keys)]
    for *values, attributes in queryset.values_list(*EXPORT_FIELDS, "attributes").iterator(chunk_size=2000):
        attributes = attributes if isinstance(attributes, dict) else {}
        yield [
            *(_cell(v) for v in values),
            *(json_cell(attributes[key]) if key in attributes else "" for key in attribute_keys),
        ]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
