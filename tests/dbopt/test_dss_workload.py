"""The decision-support generator draws date ranges a planner cannot answer without reading."""

from __future__ import annotations

import re
from datetime import date

from perfcore.dbopt.dss_data import DssScale
from perfcore.dbopt.dss_workload import statements

RANGE = re.compile(
    r"(?P<col>[\w.]+) (?:>= '(?P<a>[\d-]+)' AND (?P=col) < |BETWEEN '(?P<b>[\d-]+)' AND )'(?P<end>[\d-]+)'"
)


def test_every_date_range_is_short_and_not_empty() -> None:
    ranges = [
        (shape, m.group("a") or m.group("b"), m.group("end"))
        for shape, sql in statements(DssScale(10_000), rounds=20)
        for m in RANGE.finditer(sql)
    ]
    assert len({shape for shape, _, _ in ranges}) >= 8  # the shapes with a drawn range
    for shape, start, end in ranges:
        days = (date.fromisoformat(end) - date.fromisoformat(start)).days
        assert 0 < days <= 731, f"{shape}: {start}..{end} is {days} days"  # Q8 spans two years
