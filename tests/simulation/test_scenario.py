"""Scenario loading: defaults, the embedded perfcore config, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from perfcore.config import ConfigError, PerfcoreConfig, dump_yaml
from perfcore.platform import PLATFORM
from simulation.run import simulate
from simulation.scenario import PLATFORM_SECTIONS, load_scenario


def test_default_is_the_documented_day() -> None:
    sc = load_scenario()
    assert sc.horizon_s == 86_400
    assert sc.workload.events.count == 300
    assert sc.workload.events.total_attendees >= 200_000
    assert sc.scaling.interval_s == 15
    assert isinstance(sc.config, PerfcoreConfig)


def test_platform_sections_are_perfcore_config(tmp_path: Path) -> None:
    recommended = tmp_path / "recommended.yaml"
    tuned = PerfcoreConfig.model_validate(
        {"cache": {"default_ttl_s": 42}, "scaling": {"policy": "seed", "max_replicas": 9}}
    )
    recommended.write_text(dump_yaml(tuned))
    sc = load_scenario(None, ["scaling.max_replicas=7"], config_path=recommended)
    assert sc.cache.default_ttl_s == 42
    assert sc.scaling.policy == "seed"
    assert sc.scaling.max_replicas == 7  # --set applies last
    assert sc.config.cache == tuned.cache


def test_ttl_override_reaches_the_model() -> None:
    base = ["horizon_s=3600", "workload.events.first_start_h=0.2", "workload.events.start_waves=[]"]
    long = simulate(load_scenario(None, base)).summary()["cache"]["hit_ratio"]
    short = simulate(load_scenario(None, [*base, "cache.default_ttl_s=2"])).summary()["cache"]
    assert short["hit_ratio"] < long - 0.1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["infrastructure.request_classes={nope: {cpu_ms: 1}}"], "nope"),
        (["infrastructure.db.queries={nope: {with_index_ms: 1, without_index_ms: 1}}"], "nope"),
        (["scaling.policy=queue-backlog"], "scaling.policy"),
        (["workload.timed_jobs=[{job_type: data_backup}]"], "workload.timed_jobs.0"),
        (["workload.events.duration_h=[3, 1]"], "workload.events"),
        (["workload.streams=[{request_class: bogus, rate_per_s: 1}]"], "request_class"),
    ],
)
def test_errors_are_one_line_and_name_the_field(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_scenario(None, overrides)
    text = str(info.value)
    assert message in text and "\n" not in text


def test_partial_overrides_extend_default_mappings() -> None:
    sc = load_scenario(
        None,
        [
            "cache.default_ttl_s=60",
            "cache.namespaces.event_detail.ttl_s=5",
            "infrastructure.request_classes.register.cpu_ms=50",
            "infrastructure.db.queries.event_by_id.with_index_ms=9",
        ],
    )
    assert sc.cache.default_ttl_s == 60
    assert sc.cache.namespaces["dashboard"].ttl_s == 10  # scenario default kept
    assert sc.cache.namespaces["event_detail"].ttl_s == 5
    classes = sc.infrastructure.request_classes
    assert classes["register"].cpu_ms == 50
    assert set(classes) == set(PLATFORM.request_classes)
    assert sc.infrastructure.db.queries["event_by_id"].with_index_ms == 9
    assert "dashboard_stats" in sc.infrastructure.db.queries


def test_the_default_scenario_runs_exactly_the_production_defaults() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "perfcore", "config", "defaults"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    production = yaml.safe_load(printed)
    simulated = load_scenario(None).config.model_dump(mode="json")
    assert set(production) == set(PLATFORM_SECTIONS)
    assert simulated == production
