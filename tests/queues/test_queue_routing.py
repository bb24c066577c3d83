"""The routing policy: job type -> queue and BullMQ priority."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfcore.config import ConfigError, QueuesConfig, load_config_text, validate_model
from perfcore.queues.routing import JOB_TYPES, Route, route_job, routes_for

DEFAULT = QueuesConfig()


def test_seed_mapping_translated_to_bullmq_priorities() -> None:
    assert route_job("real_time_notification", DEFAULT) == Route("critical", 1)
    assert route_job("emergency_alert", DEFAULT) == Route("critical", 1)
    assert route_job("user_report", DEFAULT) == Route("high", 2)
    assert route_job("dashboard_update", DEFAULT) == Route("high", 2)
    assert route_job("data_backup", DEFAULT) == Route("low", 4)
    assert route_job("analytics_batch", DEFAULT) == Route("low", 4)
    others = ("analytics_processing", "notification_sending", "data_export", "report_generation")
    for other in others:
        assert route_job(other, DEFAULT) == Route("normal", 3)


def test_seed_urgency_order_is_preserved_but_inverted() -> None:
    # seed: urgent 10 > user-facing 5 > default 3 > batch 1 (higher first);
    # BullMQ runs lower numbers first, so the order must invert.
    seed = {"emergency_alert": 10, "user_report": 5, "data_export": 3, "data_backup": 1}
    by_seed = sorted(seed, key=lambda t: -seed[t])
    by_bullmq = sorted(seed, key=lambda t: route_job(t, DEFAULT).priority)
    assert by_seed == by_bullmq


def test_job_types_lists_the_seeds_ten_types() -> None:
    assert len(JOB_TYPES) == len(set(JOB_TYPES)) == 10
    assert set(routes_for(DEFAULT)) == set(JOB_TYPES)


def test_routes_come_from_config() -> None:
    config = load_config_text(
        "queues:\n  routes:\n    data_export: {queue: low, priority: 7}\n"
        "  default_route: {queue: high, priority: 9}\n"
    ).queues
    assert route_job("data_export", config) == Route("low", 7)
    assert route_job("emergency_alert", config) == Route("high", 9)  # routes replaced wholesale


@pytest.mark.parametrize(
    ("yaml_text", "field"),
    [
        ("queues:\n  routes:\n    x: {queue: critical, priority: 0}\n", "queues.routes.x.priority"),
        ("queues:\n  routes:\n    x: {queue: nowhere, priority: 1}\n", "queues"),
        ("queues:\n  default_route: {queue: nowhere, priority: 1}\n", "queues"),
    ],
)
def test_bad_routes_are_rejected_with_the_field(yaml_text: str, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text(yaml_text)
    assert str(info.value).startswith(field + ":")


@given(st.text(min_size=0, max_size=40))
def test_every_job_type_gets_a_valid_route(job_type: str) -> None:
    route = route_job(job_type, DEFAULT)
    assert route.queue in {q.name for q in DEFAULT.queues}
    assert route.priority >= 1  # 0 would mean "no priority" and jump the queue


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=12),
        st.tuples(st.sampled_from(["critical", "high", "normal", "low"]), st.integers(1, 2**21)),
        max_size=8,
    ),
    st.text(max_size=12),
)
def test_route_job_is_total_and_follows_config(
    table: dict[str, tuple[str, int]], probe: str
) -> None:
    config = validate_model(
        QueuesConfig,
        {"routes": {k: {"queue": q, "priority": p} for k, (q, p) in table.items()}},
    )
    route = route_job(probe, config)
    if probe in table:
        assert (route.queue, route.priority) == table[probe]
    else:
        assert route == Route("normal", 3)
    assert route_job(probe, config) == route  # pure: same input, same answer
