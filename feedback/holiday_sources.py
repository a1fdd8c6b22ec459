"""Public holidays of a country, from the `holidays` library, for filling a business calendar's closures."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from functools import lru_cache

import holidays
from holidays.registry import COUNTRIES

# The library names countries only by their class names ("UnitedStates"); these read badly when split.
_NAME_FIXES = {
    "DRCongo": "DR Congo",
    "Heard Island And Mc Donald Islands": "Heard Island and McDonald Islands",
}
_SMALL_WORDS = re.compile(r" (And|Of|The|Da)\b")


def _country_name(class_name: str) -> str:
    name = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", class_name)
    name = _NAME_FIXES.get(class_name, _NAME_FIXES.get(name, name))
    return _SMALL_WORDS.sub(lambda match: " " + match.group(1).lower(), name)


@lru_cache(maxsize=1)
def supported_countries() -> list[tuple[str, str]]:
    """(ISO 3166 alpha-2 code, English name) of every country the library covers, sorted by name."""
    codes = holidays.list_supported_countries(include_aliases=False)
    names = {entry[1]: _country_name(entry[0]) for entry in COUNTRIES.values()}
    return sorted(((code, names.get(code, code)) for code in codes), key=lambda pair: pair[1])


def _subdivision_code(country: str, subdivision: str) -> str:
    # Accept a code in any case ("ny") or the library's name for it ("New York").
    calendar = holidays.country_holidays(country)
    known = {code.upper(): code for code in calendar.subdivisions}
    known.update({alias.upper(): code for alias, code in calendar.subdivisions_aliases.items()})
    code = known.get(subdivision.strip().upper())
    if code is None:
        raise ValueError(f"unknown subdivision {subdivision!r} of country {country!r}")
    return code


def _english(calendar: holidays.HolidayBase) -> str | None:
    languages = calendar.supported_languages or ()
    if "en_US" in languages:
        return "en_US"
    return next((lang for lang in languages if lang.startswith("en")), None)  # else the country's own


def public_holidays(
    country: str, years: Iterable[int], subdivision: str | None = None
) -> list[tuple[date, str]]:
    """Public holidays (with observed-on days) of a country, or of one subdivision, in the given years.

    Sorted by date, one entry per date (the library joins two holidays on one day with "; "), names in
    English where the library has them. ValueError names an unknown country or subdivision.
    """
    code = (country or "").strip().upper()
    if code not in holidays.list_supported_countries(include_aliases=True):
        raise ValueError(f"unknown country {country!r} for public holidays")
    subdiv = _subdivision_code(code, subdivision) if subdivision else None
    years = sorted(set(years))
    if not years:
        return []
    language = _english(holidays.country_holidays(code))
    try:
        calendar = holidays.country_holidays(code, subdiv=subdiv, years=years, language=language)
    except NotImplementedError as error:  # the library's word for "unknown"; ours is ValueError
        raise ValueError(str(error)) from None
    return sorted(calendar.items())
