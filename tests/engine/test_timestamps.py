"""Event times: every accepted form, the bad ones, the seconds/milliseconds threshold, the round trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sigma.backends.okta.engine import timestamps
from sigma.backends.okta.engine.timestamps import (
    BAD_TIME,
    EARLIEST_TIME,
    END_OF_TIME,
    MISSING_TIME,
    compile_time_getter,
    format_time,
    parse_time,
)

time_of = compile_time_getter()


def micros(*parts: int, offset: timedelta = timedelta(0)) -> int:
    """The expected value, computed independently with datetime."""
    moment = datetime(*parts, tzinfo=UTC) - offset
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01T12:34:56.789Z", micros(2024, 3, 1, 12, 34, 56, 789000)),
        ("2024-03-01T12:34:56Z", micros(2024, 3, 1, 12, 34, 56)),
        ("2024-03-01T12:34:56", micros(2024, 3, 1, 12, 34, 56)),
        ("2024-03-01 12:34:56", micros(2024, 3, 1, 12, 34, 56)),
        ("2022-06-22 18:18:29.015", micros(2022, 6, 22, 18, 18, 29, 15000)),
        ("2020-11-25 21:27:03.496000000", micros(2020, 11, 25, 21, 27, 3, 496000)),
        ("2024-03-01T12:34:56.5Z", micros(2024, 3, 1, 12, 34, 56, 500000)),
        ("2024-03-01T12:34:56.123456Z", micros(2024, 3, 1, 12, 34, 56, 123456)),
        ("2024-03-01T12:34:56.123456789Z", micros(2024, 3, 1, 12, 34, 56, 123456)),  # truncated
        ("2024-03-01T12:34:56.999999999Z", micros(2024, 3, 1, 12, 34, 56, 999999)),
        ("2024-03-01T12:34:56,25Z", micros(2024, 3, 1, 12, 34, 56, 250000)),
        ("2024-03-01t12:34:56.789z", micros(2024, 3, 1, 12, 34, 56, 789000)),
        ("2024-03-01T12:34:56.789+02:00", micros(2024, 3, 1, 12, 34, 56, 789000, offset=timedelta(hours=2))),
        ("2024-03-01T12:34:56+0530", micros(2024, 3, 1, 12, 34, 56, offset=timedelta(hours=5, minutes=30))),
        ("2024-03-01T12:34:56-07:00", micros(2024, 3, 1, 12, 34, 56, offset=-timedelta(hours=7))),
        ("2024-03-01T12:34:56-03", micros(2024, 3, 1, 12, 34, 56, offset=-timedelta(hours=3))),
        ("2024-03-01T00:30:00+01:00", micros(2024, 2, 29, 23, 30, 0)),  # the offset crosses a leap day
        ("1969-12-31T23:59:59.999Z", -1000),
        ("0001-01-01T00:00:00Z", EARLIEST_TIME),
        ("9999-12-31T23:59:59.999999Z", END_OF_TIME - 1),
    ],
)
def test_iso_8601_forms(text, expected):
    assert time_of({"published": text}) == expected
    assert parse_time(text) == expected


def test_the_cached_prefix_serves_other_tails_correctly():
    base = micros(2024, 3, 1, 12, 34, 56)
    assert time_of({"published": "2024-03-01T12:34:56.001Z"}) == base + 1000
    assert time_of({"published": "2024-03-01T12:34:56.002"}) == base + 2000
    assert time_of({"published": "2024-03-01T12:34:56.5Z"}) == base + 500000
    assert time_of({"published": "2024-03-01T12:34:56+01:00"}) == base - 3600 * 10**6
    assert time_of({"published": "2024-03-01T12:34:56 Z"}) is BAD_TIME
    assert time_of({"published": "2024-03-01T12:34:56.0012Z"}) == base + 1200


def test_a_full_cache_is_emptied_and_results_stay_right(monkeypatch):
    monkeypatch.setattr(timestamps, "_PREFIX_CACHE_LIMIT", 3)
    for second in range(10):
        assert time_of({"published": f"2024-03-01T00:00:{second:02d}.000Z"}) == micros(
            2024, 3, 1, 0, 0, second
        )
    assert len(timestamps._SECOND_OF_PREFIX) <= 3


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (1709296496, micros(2024, 3, 1, 12, 34, 56)),
        (1709296496789, micros(2024, 3, 1, 12, 34, 56, 789000)),
        (1709296496.5, micros(2024, 3, 1, 12, 34, 56, 500000)),
        (1709296496789.5, micros(2024, 3, 1, 12, 34, 56, 789500)),
        (1709296496.789, micros(2024, 3, 1, 12, 34, 56, 789000)),  # rounded, not truncated to ...788999
        (0, 0),
        (-86400, -86400 * 10**6),
        (99_999_999_999, 99_999_999_999 * 10**6),  # just under the threshold: seconds (year 5138)
        (100_000_000_000, 100_000_000_000 * 1000),  # at the threshold: milliseconds (1973)
        (-100_000_000_000, -100_000_000_000 * 1000),
        (99_999_999_999.0, 99_999_999_999 * 10**6),
        (100_000_000_000.0, 100_000_000_000 * 1000),
    ],
)
def test_json_numbers_are_epoch_seconds_or_milliseconds(number, expected):
    assert time_of({"published": number}) == expected


@pytest.mark.parametrize(
    "value",
    [
        "1709296496",  # numeric strings are not epochs
        "1709296496789",
        "",
        "redacted",  # as in a Panther test event
        "2024-03-01",
        "2024-03-01T12:34",
        "2017-09-31T22:23:07.777Z",  # an impossible date, from a published Okta sample
        "2023-02-29T00:00:00Z",
        "2024-03-01T24:00:00Z",
        "2024-03-01T12:60:00Z",
        "2016-12-31T23:59:60Z",  # leap seconds are not representable
        "0000-01-01T00:00:00Z",
        " 2024-03-01T12:34:56Z",
        "2024-03-01T12:34:56Z ",
        "2024-03-01T12:34:56.Z",
        "2024-03-01T12:34:56.1234567890Z",
        "2024-03-01T12:34:56+24:00",
        "2024-03-01T12:34:56+01:60",
        "2024-03-01T12:34:56+1",
        "2024-03-01T12:34:56UTC",
        "２０２４-03-01T12:34:56Z",  # non-ASCII digits
        "2024/03/01 12:34:56",
        True,
        False,
        [1709296496],
        {"seconds": 1709296496},
        float("nan"),
        float("inf"),
        10**20,  # milliseconds far past the year 9999
        -(10**20),
    ],
)
def test_unreadable_values_are_bad(value):
    assert time_of({"published": value}) is BAD_TIME


@pytest.mark.parametrize("event", [{}, {"published": None}, {"other": "2024-03-01T12:34:56Z"}])
def test_absent_or_null_is_missing(event):
    assert time_of(event) is MISSING_TIME


def test_sentinels_are_below_every_time():
    assert BAD_TIME < MISSING_TIME < EARLIEST_TIME
    assert BAD_TIME <= MISSING_TIME


def test_a_dotted_field_uses_field_resolution():
    getter = compile_time_getter("debugContext.debugData.time")
    nested = {"debugContext": {"debugData": {"time": "2024-03-01T12:34:56Z"}}}
    flattened = {"debugContext.debugData.time": 1709296496}
    assert getter(nested) == getter(flattened) == micros(2024, 3, 1, 12, 34, 56)
    assert getter({"debugContext": {"debugData": {}}}) is MISSING_TIME
    assert getter({"debugContext": {"debugData": {"time": None}}}) is MISSING_TIME
    assert getter({"debugContext": {"debugData": {"time": "soon"}}}) is BAD_TIME


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (micros(2024, 3, 1, 12, 34, 56, 789000), "2024-03-01T12:34:56.789Z"),
        (micros(2024, 3, 1, 12, 34, 56), "2024-03-01T12:34:56.000Z"),
        (micros(2024, 3, 1, 12, 34, 56, 123456), "2024-03-01T12:34:56.123456Z"),
        (micros(2024, 3, 1, 12, 34, 56, 1), "2024-03-01T12:34:56.000001Z"),
        (-1000, "1969-12-31T23:59:59.999Z"),
        (EARLIEST_TIME, "0001-01-01T00:00:00.000Z"),
        (END_OF_TIME - 1, "9999-12-31T23:59:59.999999Z"),
    ],
)
def test_format_time(value, text):
    assert format_time(value) == text


@pytest.mark.parametrize("value", [MISSING_TIME, BAD_TIME, END_OF_TIME, EARLIEST_TIME - 1])
def test_format_time_refuses_what_is_not_a_time(value):
    with pytest.raises(ValueError):
        format_time(value)


@given(st.integers(EARLIEST_TIME, END_OF_TIME - 1))
def test_format_then_parse_round_trips(value):
    assert time_of({"published": format_time(value)}) == value


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
def test_parsing_agrees_with_datetime(moment):
    text = moment.isoformat(sep="T", timespec="microseconds") + "Z"
    assert time_of({"published": text}) == micros(*moment.timetuple()[:6], moment.microsecond)
