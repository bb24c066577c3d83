"""Property tests over the config and scenario schemas (hypothesis).

Strategies are derived from the models themselves: every numeric field with
its declared bounds.  A value inside the bounds loads and survives a YAML
round trip unchanged; a value outside them, or not finite, is a one-line
:class:`ConfigError` naming that field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import UnionType
from typing import Any, Union, get_args, get_origin

import annotated_types as at
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from perfcore.config import ConfigError, PerfcoreConfig, Section, dump_yaml, validate_model
from simulation.scenario import Scenario

# Fields whose valid range depends on another field (a model validator checks the pair).
CROSS_FIELD = {
    "scaling.min_replicas",
    "scaling.max_replicas",
    "workload.events.first_start_h",
    "workload.events.last_start_h",
    "workload.events.total_attendees",  # with the run budget of simulation.budget
}


@dataclass(frozen=True)
class NumberField:
    path: tuple[str, ...]
    integer: bool
    low: float | None  # inclusive
    high: float | None  # inclusive
    low_open: bool
    high_open: bool

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


def _bounds(metadata: list[Any]) -> tuple[float | None, float | None, bool, bool]:
    low = high = None
    low_open = high_open = False
    for item in metadata:
        if isinstance(item, at.Gt):
            low, low_open = float(item.gt), True  # type: ignore[arg-type]
        elif isinstance(item, at.Ge):
            low = float(item.ge)  # type: ignore[arg-type]
        elif isinstance(item, at.Lt):
            high, high_open = float(item.lt), True  # type: ignore[arg-type]
        elif isinstance(item, at.Le):
            high = float(item.le)  # type: ignore[arg-type]
    return low, high, low_open, high_open


def number_fields(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[NumberField]:
    """Every int or float field (optional or not) of ``model`` and its nested sections."""
    found: list[NumberField] = []
    for name, info in model.model_fields.items():
        union = get_origin(info.annotation) in (Union, UnionType)  # X | None
        kinds = set(get_args(info.annotation)) - {type(None)} if union else {info.annotation}
        path = (*prefix, name)
        if len(kinds) == 1 and isinstance(kind := next(iter(kinds)), type):
            if issubclass(kind, Section):
                found += number_fields(kind, path)
            elif kind in (int, float) and kind is not bool:
                found.append(NumberField(path, kind is int, *_bounds(info.metadata)))
    return found


CONFIG_FIELDS = [f for f in number_fields(PerfcoreConfig) if f.dotted not in CROSS_FIELD]
SCENARIO_FIELDS = [
    f
    for f in number_fields(Scenario)
    if f.dotted not in CROSS_FIELD and f.path[0] not in PerfcoreConfig.model_fields
]


def _nest(model: type[BaseModel], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """The model's default document with the field at ``path`` set to ``value``."""
    data: dict[str, Any] = model().model_dump(mode="json")
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


def inside(field: NumberField) -> st.SearchStrategy[float | int]:
    low = field.low if field.low is not None else -1e9
    high = field.high if field.high is not None else 1e9
    if field.integer:
        lo = math.floor(low) + 1 if field.low_open else math.ceil(low)
        hi = math.ceil(high) - 1 if field.high_open else math.floor(high)
        return st.integers(int(lo), int(min(hi, lo + 10**6)))
    return st.floats(
        low,
        min(high, low + 1e6),
        exclude_min=field.low_open,
        exclude_max=field.high_open,
        allow_nan=False,
        allow_infinity=False,
    )


def outside(field: NumberField) -> st.SearchStrategy[float | int]:
    """Values the field must refuse: beyond a bound, or not a finite number (for floats)."""
    options: list[st.SearchStrategy[float | int]] = []
    if field.low is not None:
        edge = field.low if field.low_open else field.low - (1 if field.integer else 1e-6)
        options.append(
            st.integers(-(10**30), math.floor(edge)) if field.integer else st.floats(-1e300, edge)
        )
    if field.high is not None:
        edge = field.high if field.high_open else field.high + (1 if field.integer else 1e-6)
        options.append(
            st.integers(math.ceil(edge), 10**30) if field.integer else st.floats(edge, 1e300)
        )
    if not field.integer:
        options.append(st.sampled_from([math.inf, -math.inf, math.nan]))
    return st.one_of(options)


def _round_trip(model: type[BaseModel], data: dict[str, Any]) -> None:
    loaded = validate_model(model, data)
    again = validate_model(model, yaml.safe_load(dump_yaml(loaded)))
    assert again == loaded


def _refused(model: type[BaseModel], data: dict[str, Any], dotted: str) -> None:
    # The YAML text of the value, as a user would write it (.inf, .nan, 1e+30).
    with pytest.raises(ConfigError) as raised:
        validate_model(model, yaml.safe_load(yaml.safe_dump(data)))
    message = str(raised.value)
    assert "\n" not in message and message.startswith(dotted), message


@settings(max_examples=100)
@given(st.data())
def test_config_values_inside_their_bounds_load_and_round_trip(data: st.DataObject) -> None:
    field = data.draw(st.sampled_from(CONFIG_FIELDS), label="field")
    _round_trip(
        PerfcoreConfig, _nest(PerfcoreConfig, field.path, data.draw(inside(field), label="value"))
    )


@settings(max_examples=100)
@given(st.data())
def test_config_values_outside_their_bounds_are_one_line_naming_the_field(
    data: st.DataObject,
) -> None:
    field = data.draw(
        st.sampled_from(
            [f for f in CONFIG_FIELDS if f.low is not None or f.high is not None or not f.integer]
        )
    )
    _refused(
        PerfcoreConfig, _nest(PerfcoreConfig, field.path, data.draw(outside(field))), field.dotted
    )


@settings(max_examples=100)
@given(st.data())
def test_scenario_values_inside_their_bounds_load_and_round_trip(data: st.DataObject) -> None:
    field = data.draw(st.sampled_from(SCENARIO_FIELDS), label="field")
    _round_trip(Scenario, _nest(Scenario, field.path, data.draw(inside(field), label="value")))


@settings(max_examples=100)
@given(st.data())
def test_scenario_values_outside_their_bounds_are_refused(data: st.DataObject) -> None:
    field = data.draw(
        st.sampled_from(
            [f for f in SCENARIO_FIELDS if f.low is not None or f.high is not None or not f.integer]
        )
    )
    _refused(Scenario, _nest(Scenario, field.path, data.draw(outside(field))), field.dotted)


def test_the_strategies_reach_every_section() -> None:
    sections = {f.path[0] for f in CONFIG_FIELDS} | {f.path[0] for f in SCENARIO_FIELDS}
    assert {"cache", "queues", "scaling", "dbopt", "workload", "infrastructure", "slo"} <= sections
    assert len(CONFIG_FIELDS) > 50 and len(SCENARIO_FIELDS) > 30
    # Every float can be refused (non-finite) and every field that drives memory or time is bounded.
    unbounded = [f.dotted for f in CONFIG_FIELDS + SCENARIO_FIELDS if f.high is None]
    assert "horizon_s" not in unbounded and "scaling.max_replicas" not in unbounded


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200)
@given(
    st.dictionaries(st.sampled_from(["cache", "queues", "scaling", "dbopt", "x"]), JSON, max_size=3)
)
def test_any_document_loads_or_is_one_line(document: dict[str, Any]) -> None:
    try:
        validate_model(PerfcoreConfig, document)
    except ConfigError as exc:
        assert "\n" not in str(exc)
