"""The rule language of behavioural segments: validation and compilation to one query.

A rule set is a group: {"match": "all" | "any", "rules": [rule or group, ...]}. A rule is
{"field": ..., "op": ..., "value": ...} with the extra keys its field takes:

  recency_days      days since the last purchase (customers who never bought never match)
  purchase_count    purchases, optionally within "window_days"
  purchase_amount   money spent on purchases, optionally within "window_days"
  event_count       events of "kind", optionally at "touchpoint" (id) and within "window_days"
  client_type       client type slugs;  lifecycle_stage, service_class: their values
  attribute         the customer attribute "key" (ops eq, ne, in, not_in, exists, gt, gte, lt, lte);
                    values compare as JSON (7 == 7.0, "7" != 7, true != 1), gt/gte/lt/lte only
                    match numbers, and ne/not_in include customers without the key

Behavioural rules compile to `pk IN (SELECT customer_id FROM events ... GROUP BY customer_id
HAVING ...)`, one aggregate pass over the events index instead of a subquery per customer. Where a
customer with no events at all satisfies the rule (e.g. "fewer than 3 purchases"), it compiles to
the complement, `pk NOT IN (... HAVING NOT ...)`, so the result is exact either way.
"""

import operator
import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import NotSupportedError
from django.db.models import Count, ExpressionWrapper, F, FloatField, Func, JSONField, Max, Q, Sum
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Round
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual

from .models import ClientType, Event, EventKind, LifecycleStage, ServiceClass, Touchpoint

COMPARISONS = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}
MEMBERSHIP_OPS = ("eq", "ne", "in", "not_in")
ATTRIBUTE_OPS = ("eq", "ne", "in", "not_in", "exists", "gt", "gte", "lt", "lte")
RECENCY_OPS = ("lt", "lte", "gt", "gte")
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
MAX_DEPTH = 5
MAX_RULES = 50
# Windows and recency reach back at most a century: a larger number of days would overflow
# Python's datetime arithmetic (a 500) instead of meaning anything to a CX lead.
MAX_DAYS = 36500

BEHAVIOUR_FIELDS = ("recency_days", "purchase_count", "purchase_amount", "event_count")
CHOICE_FIELDS = ("client_type", "lifecycle_stage", "service_class")
FIELDS = (*BEHAVIOUR_FIELDS, *CHOICE_FIELDS, "attribute")


class _Errors:
    def __init__(self):
        self.messages: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.messages.append(f"{path}: {message}")


def validate_rules(rules) -> dict:
    """Return the rule set normalised, or raise ValidationError({"rules": [...]}) naming each
    bad part by its path, e.g. "rules[1].value: must be a whole number of 0 or more"."""
    errors = _Errors()
    counter = [0]
    normalised = _validate_group(rules, "rules", errors, depth=1, counter=counter)
    if errors.messages:
        raise ValidationError({"rules": errors.messages})
    return normalised


def _validate_group(group, path, errors, *, depth, counter):
    if not isinstance(group, dict):
        errors.add(path, 'must be an object like {"match": "all", "rules": [...]}')
        return None
    match = group.get("match", "all")
    if match not in ("all", "any"):
        errors.add(f"{path}.match", 'must be "all" or "any"')
    children = group.get("rules")
    if not isinstance(children, list) or not children:
        errors.add(f"{path}.rules", "must be a non-empty list of rules")
        return None
    unknown = set(group) - {"match", "rules"}
    if unknown:
        errors.add(path, f"unknown keys {sorted(unknown)}; a group has only match and rules")
    out = []
    for i, child in enumerate(children):
        child_path = f"{path}.rules[{i}]" if path != "rules" else f"rules[{i}]"
        if isinstance(child, dict) and "rules" in child:
            if depth >= MAX_DEPTH:
                errors.add(child_path, f"groups nest at most {MAX_DEPTH} deep")
                continue
            out.append(_validate_group(child, child_path, errors, depth=depth + 1, counter=counter))
        else:
            counter[0] += 1
            if counter[0] > MAX_RULES:
                errors.add(child_path, f"a segment has at most {MAX_RULES} rules")
                break
            out.append(_validate_rule(child, child_path, errors))
    return {"match": match, "rules": out}


def _whole_number(value, path, errors, *, minimum=0, maximum=None):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        errors.add(path, f"must be a whole number of {minimum} or more")
        return None
    if maximum is not None and value > maximum:
        errors.add(path, f"must be at most {maximum}")
        return None
    return value


def _validate_rule(rule, path, errors):
    if not isinstance(rule, dict):
        errors.add(path, 'must be an object like {"field": ..., "op": ..., "value": ...}')
        return None
    field = rule.get("field")
    if field not in FIELDS:
        errors.add(f"{path}.field", f"must be one of {', '.join(FIELDS)}")
        return None
    op = rule.get("op")
    allowed_ops = {
        "recency_days": RECENCY_OPS,
        "attribute": ATTRIBUTE_OPS,
        **{f: MEMBERSHIP_OPS for f in CHOICE_FIELDS},
    }.get(field, tuple(COMPARISONS))
    if op not in allowed_ops:
        errors.add(f"{path}.op", f"for {field} must be one of {', '.join(allowed_ops)}")
        return None

    allowed_keys = {"field", "op", "value"}
    out = {"field": field, "op": op}
    if field in ("purchase_count", "purchase_amount", "event_count"):
        allowed_keys.add("window_days")
        if rule.get("window_days") is not None:
            out["window_days"] = _whole_number(
                rule["window_days"], f"{path}.window_days", errors, minimum=1, maximum=MAX_DAYS
            )
    if field == "event_count":
        allowed_keys |= {"kind", "touchpoint"}
        if rule.get("kind") not in EventKind.values:
            errors.add(f"{path}.kind", f"must be one of {', '.join(EventKind.values)}")
        out["kind"] = rule.get("kind")
        if rule.get("touchpoint") is not None:
            tp = rule["touchpoint"]
            if isinstance(tp, bool) or not isinstance(tp, int):
                errors.add(f"{path}.touchpoint", "must be a touchpoint id")
            elif not Touchpoint.objects.filter(pk=tp).exists():
                errors.add(f"{path}.touchpoint", f"no touchpoint with id {tp}")
            out["touchpoint"] = tp
    if field == "attribute":
        allowed_keys.add("key")
        key = rule.get("key")
        if not isinstance(key, str) or not ATTRIBUTE_KEY.match(key):
            errors.add(f"{path}.key", "must be an attribute name (letters, digits, _)")
        out["key"] = key

    unknown = set(rule) - allowed_keys
    if unknown:
        errors.add(path, f"unknown keys {sorted(unknown)} for field {field}")

    value = rule.get("value")
    value_path = f"{path}.value"
    if field == "recency_days":
        out["value"] = _whole_number(value, value_path, errors, maximum=MAX_DAYS)
    elif field in ("purchase_count", "event_count"):
        out["value"] = _whole_number(value, value_path, errors)
    elif field == "purchase_amount":
        try:
            amount = Decimal(str(value)) if not isinstance(value, bool) and value is not None else None
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite() or amount < 0:
            errors.add(value_path, "must be an amount of 0 or more")
        else:
            out["value"] = str(amount)
    elif field in CHOICE_FIELDS:
        out["value"] = _validate_choice_value(field, op, value, value_path, errors)
    elif op == "exists":
        if value not in (None, True):
            errors.add(value_path, "takes no value for exists")
    elif op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            errors.add(value_path, "must be a non-empty list")
        elif not all(isinstance(v, str | int | float | bool) for v in value):
            errors.add(value_path, "must list strings, numbers or true/false")
        out["value"] = value
    elif op in ("gt", "gte", "lt", "lte"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            errors.add(value_path, "must be a number")
        out["value"] = value
    else:
        if not isinstance(value, str | int | float | bool):
            errors.add(value_path, "must be a string, number or true/false")
        out["value"] = value
    return out


def _validate_choice_value(field, op, value, path, errors):
    values = value if op in ("in", "not_in") else [value]
    if not isinstance(values, list) or not values:
        errors.add(path, "must be a non-empty list")
        return value
    if not all(isinstance(v, str) for v in values):
        # A list or object here would otherwise reach set membership below and raise (a 500).
        errors.add(path, "must be a list of names" if op in ("in", "not_in") else "must be a name")
        return value
    if field == "client_type":
        known = set(
            ClientType.objects.filter(slug__in=[v for v in values if isinstance(v, str)]).values_list(
                "slug", flat=True
            )
        )
    else:
        known = set((LifecycleStage if field == "lifecycle_stage" else ServiceClass).values)
    unknown = [v for v in values if v not in known]
    if unknown:
        errors.add(path, f"unknown {field.replace('_', ' ')} {', '.join(map(str, unknown))}")
    return value


# --- compilation -------------------------------------------------------------------------------


def compile_rules(rules: dict, *, now: datetime) -> Q:
    """A Q over Customer matching the (validated) rule set, as of `now`."""
    children = rules["rules"]
    parts = []
    if rules["match"] == "all":
        shared, children = _split_shareable(children)
        parts += [_compile_shared(group, now=now) for group in shared]
    parts += [
        compile_rules(child, now=now) if "rules" in child else _compile_rule(child, now=now)
        for child in children
    ]
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part if rules["match"] == "all" else combined | part
    return combined


def _having_q(op: str, value, name: str = "v") -> Q:
    return ~Q(**{name: value}) if op == "ne" else Q(**{f"{name}__{'exact' if op == 'eq' else op}": value})


def _needs_events(rule: dict) -> bool:
    """Whether only a customer with at least one of the rule's events can match it."""
    if rule["field"] == "recency_days":
        return True
    if rule["field"] == "purchase_amount":
        return not COMPARISONS[rule["op"]](Decimal(0), Decimal(rule["value"]))
    return not COMPARISONS[rule["op"]](0, rule["value"])


def _window_days(rule: dict) -> int | None:
    # "Bought within the last N days" reads only the last N days of purchases.
    return rule["value"] if rule["field"] == "recency_days" else rule.get("window_days")


def _split_shareable(children: list) -> tuple[list[list[dict]], list]:
    """Pick out the behavioural rules of an "all" group that read the same events (kind and
    touchpoint) and that only customers with such events can match: each such set of two or
    more compiles to ONE grouped subquery with one HAVING, one pass over the events instead of
    one per rule. (Recency gt/gte needs every purchase ever, so it stays on its own.)"""
    by_source: dict[tuple, list[dict]] = {}
    for child in children:
        if (
            "rules" not in child
            and child["field"] in BEHAVIOUR_FIELDS
            and not (child["field"] == "recency_days" and child["op"] in ("gt", "gte"))
            and _needs_events(child)
        ):
            source = (child.get("kind", EventKind.PURCHASE), child.get("touchpoint"))
            by_source.setdefault(source, []).append(child)
    shared = [group for group in by_source.values() if len(group) > 1]
    taken = {id(rule) for group in shared for rule in group}
    return shared, [child for child in children if id(child) not in taken]


def _compile_shared(group: list[dict], *, now: datetime) -> Q:
    windows = [_window_days(rule) for rule in group]
    widest = None if None in windows else max(windows)
    events = Event.objects.filter(kind=group[0].get("kind", EventKind.PURCHASE))
    if group[0].get("touchpoint") is not None:
        events = events.filter(touchpoint_id=group[0]["touchpoint"])
    if widest is not None:
        events = events.filter(occurred_at__gte=now - timedelta(days=widest))
    aggregates, having = {}, Q()
    for i, (rule, window) in enumerate(zip(group, windows, strict=True)):
        name, op, value = f"v{i}", rule["op"], rule["value"]
        narrower = (
            Q(occurred_at__gte=now - timedelta(days=window))
            if window is not None and window != widest
            else None
        )
        if rule["field"] == "recency_days":
            aggregates[name] = Max("occurred_at")  # the WHERE already holds every event since the cutoff
            having &= _having_q({"lt": "gt", "lte": "gte"}[op], now - timedelta(days=value), name)
        elif rule["field"] == "purchase_amount":
            aggregates[name] = Round(Sum("amount", filter=narrower), 2)
            having &= _having_q(op, Decimal(value), name)
        else:
            aggregates[name] = Count("customer_id", filter=narrower)
            having &= _having_q(op, value, name)
    grouped = events.order_by().values("customer_id").annotate(**aggregates).filter(having)
    return Q(pk__in=grouped.values("customer_id"))


def _aggregate_rule(events, aggregate, op: str, value, zero) -> Q:
    """Customers whose aggregate over `events` satisfies `op value`, counting 0 for no events."""
    having = _having_q(op, value)
    grouped = events.order_by().values("customer_id").annotate(v=aggregate)
    if COMPARISONS[op](zero, value):
        return ~Q(pk__in=grouped.filter(~having).values("customer_id"))
    return Q(pk__in=grouped.filter(having).values("customer_id"))


def _compile_rule(rule: dict, *, now: datetime) -> Q:
    field, op, value = rule["field"], rule["op"], rule.get("value")
    if field in BEHAVIOUR_FIELDS:
        kind = rule.get("kind", EventKind.PURCHASE)
        events = Event.objects.filter(kind=kind)
        if rule.get("touchpoint") is not None:
            events = events.filter(touchpoint_id=rule["touchpoint"])
        if rule.get("window_days"):
            events = events.filter(occurred_at__gte=now - timedelta(days=rule["window_days"]))
        if field == "recency_days":
            # "days since last purchase <op> N" is "last purchase <reversed op> now - N days".
            reversed_op = {"lt": "gt", "lte": "gte", "gt": "lt", "gte": "lte"}[op]
            cutoff = now - timedelta(days=value)
            if op in ("lt", "lte"):
                # "Bought recently" is "has a purchase since the cutoff": a semi-join over the
                # last N days of the index, not a MAX over every purchase ever.
                recent = events.filter(**{f"occurred_at__{reversed_op}": cutoff})
                return Q(pk__in=recent.values("customer_id"))
            grouped = events.order_by().values("customer_id").annotate(v=Max("occurred_at"))
            return Q(pk__in=grouped.filter(_having_q(reversed_op, cutoff)).values("customer_id"))
        if field == "purchase_amount":
            # Rounded to the column's cents: SQLite sums decimals as floats, so without it three
            # purchases of 0.10 would not "eq 0.30" there (they do on PostgreSQL).
            return _aggregate_rule(events, Round(Sum("amount"), 2), op, Decimal(value), Decimal(0))
        # Count an indexed non-null column, not the id: it keeps PostgreSQL's index-only scan.
        return _aggregate_rule(events, Count("customer_id"), op, value, 0)

    if field == "attribute":
        return _attribute_q(rule["key"], op, value)

    column = {"client_type": "client_type__slug"}.get(field, field)
    values = value if op in ("in", "not_in") else [value]
    member = Q(**{f"{column}__in": values})
    if op in ("ne", "not_in") and field == "client_type":
        return ~member | Q(client_type__isnull=True)
    return member if op in ("eq", "in") else ~member


NUMERIC_LOOKUPS = {"gt": GreaterThan, "gte": GreaterThanOrEqual, "lt": LessThan, "lte": LessThanOrEqual}


def _attribute_q(key: str, op: str, value) -> Q:
    # The key goes in as an expression, never spliced into a lookup string, where a key named
    # "contains" or "range" would be read as a lookup and "a__b" as the nested path a.b.
    has_key = Q(attributes__has_key=key)
    if op == "exists":
        return has_key
    if op in NUMERIC_LOOKUPS:
        return Q(NUMERIC_LOOKUPS[op](_AttributeNumber(key), value))
    # With its output field known up front, the lookup JSON-encodes the value as a string lookup does.
    attribute = KeyTransform(key, ExpressionWrapper(F("attributes"), output_field=JSONField()))
    if op in ("eq", "ne"):
        match = Q(attribute.get_lookup("exact")(attribute, value))
    else:
        # Django's IN drops values equal in Python, and True == 1 there though not in JSON: one
        # IN for true/false and one for the rest keeps both.
        flags, others = (
            [v for v in value if isinstance(v, bool)],
            [v for v in value if not isinstance(v, bool)],
        )
        parts = [Q(attribute.get_lookup("in")(attribute, part)) for part in (flags, others) if part]
        match = parts[0] if len(parts) == 1 else parts[0] | parts[1]
    # The match is NULL, not false, where the key is missing; "ne"/"not_in" take those customers.
    return match if op in ("eq", "in") else ~match | ~has_key


class _AttributeNumber(Func):
    """The attribute's value where it is a JSON number (not true/false), else NULL.

    So gt/gte/lt/lte compare numbers only, and alike on both databases: PostgreSQL orders jsonb
    strings and null below every number and true above, SQLite orders text above every number.
    """

    output_field = FloatField()

    def __init__(self, key: str):
        super().__init__(F("attributes"))
        self.key = key

    def as_sql(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            sql = f"(CASE WHEN jsonb_typeof({column} -> %s) = 'number' THEN ({column} ->> %s)::numeric END)"
            return sql, (*params, self.key, *params, self.key)
        if connection.vendor == "sqlite":
            path = f'$."{self.key}"'  # the key is letters, digits and _ (ATTRIBUTE_KEY)
            sql = (
                f"(CASE WHEN json_type({column}, %s) IN ('integer', 'real') "
                f"THEN json_extract({column}, %s) END)"
            )
            return sql, (*params, path, *params, path)
        raise NotSupportedError(f"attribute comparisons are not written for {connection.vendor}")
