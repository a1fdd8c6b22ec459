"""Checks shared by the apps' models."""

from django.db import models


def choice_list_errors(instance, lists: dict[str, type[models.TextChoices]]) -> dict[str, str]:
    """Errors by field for JSON fields that hold a list of choice values (a campaign's lifecycle
    stages, a policy's conditions): a list of strings, each one of its choices."""
    errors = {}
    for name, allowed in lists.items():
        value = getattr(instance, name)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            errors[name] = f"A list of values, any of: {', '.join(allowed.values)}."
        elif unknown := [v for v in value if v not in allowed.values]:
            errors[name] = f"Unknown {', '.join(unknown)}; use {', '.join(allowed.values)}."
    return errors
