"""Public holidays for business calendars come from the `holidays` library, in English, sorted."""

from datetime import date

import pytest

from feedback.holiday_sources import public_holidays, supported_countries


def test_russian_holidays_include_new_year_and_victory_day_in_english():
    days = dict(public_holidays("RU", [2025]))
    assert date(2025, 1, 1) in days
    assert date(2025, 1, 7) in days  # Orthodox Christmas
    assert days[date(2025, 5, 9)] == "Victory Day"


def test_us_holidays_of_several_years_are_sorted_and_include_observed_days():
    found = public_holidays("us", range(2025, 2027))
    dates = [day for day, _ in found]
    assert dates == sorted(dates)
    assert {date(2025, 1, 1), date(2025, 7, 4), date(2026, 1, 1), date(2026, 7, 4)} <= set(dates)
    # July 4th 2026 is a Saturday: the Friday before is closed too.
    assert dict(found)[date(2026, 7, 3)] == "Independence Day (observed)"


def test_a_subdivision_adds_its_own_holidays_by_code_or_by_name():
    national = {day for day, _ in public_holidays("US", [2025])}
    by_code = {day for day, _ in public_holidays("US", [2025], "ny")}
    by_name = {day for day, _ in public_holidays("US", [2025], "New York")}
    assert by_code == by_name
    assert national < by_code  # e.g. Lincoln's Birthday


def test_no_years_means_no_holidays():
    assert public_holidays("RU", []) == []


@pytest.mark.parametrize("country", ["XX", "", "Narnia"])
def test_an_unknown_country_is_named_in_the_error(country):
    with pytest.raises(ValueError, match=f"unknown country {country!r}"):
        public_holidays(country, [2025])


def test_an_unknown_subdivision_is_named_in_the_error():
    with pytest.raises(ValueError, match="unknown subdivision 'ZZ' of country 'US'"):
        public_holidays("US", [2025], "ZZ")


def test_supported_countries_are_choices_sorted_by_name():
    choices = supported_countries()
    assert ("RU", "Russia") in choices
    assert ("US", "United States") in choices
    assert ("BA", "Bosnia and Herzegovina") in choices
    assert [name for _, name in choices] == sorted(name for _, name in choices)
    assert all(len(code) == 2 for code, _ in choices)
    assert len({code for code, _ in choices}) == len(choices)
