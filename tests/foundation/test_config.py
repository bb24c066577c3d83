"""The config schema: defaults round-trip, errors name their field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from perfcore.config import (
    ConfigError,
    PerfcoreConfig,
    apply_overrides,
    dump_yaml,
    load_config,
    load_config_text,
)


def test_defaults_round_trip_through_yaml() -> None:
    text = dump_yaml(PerfcoreConfig())
    assert load_config_text(text) == PerfcoreConfig()


def test_seed_defaults_are_the_defaults() -> None:
    config = PerfcoreConfig()
    assert config.cache.warm_loaders["active_events"].ttl_s == 300
    assert config.cache.warm_loaders["popular_event_types"].ttl_s == 3600
    assert config.cache.warm_loaders["system_configuration"].ttl_s == 1800
    assert [(q.name, q.concurrency) for q in config.queues.queues] == [
        ("critical", 20),
        ("high", 15),
        ("normal", 10),
        ("low", 5),
    ]
    assert config.queues.job_defaults.attempts == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cache:\n  default_ttl_s: -1\n", "cache.default_ttl_s: Input should be greater than 0"),
        (
            "cache:\n  l1:\n    max_entries: lots\n",
            "cache.l1.max_entries: Input should be a valid integer",
        ),
        ("cache:\n  defualt_ttl_s: 5\n", "cache.defualt_ttl_s: Extra inputs are not permitted"),
        ("scaling: [1, 2]\n", "scaling:"),
        ("cache: {\n", "invalid YAML"),
        ("- 1\n", "(root)"),
    ],
)
def test_errors_are_one_line_and_name_the_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text(text)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_overrides_parse_values_as_yaml() -> None:
    config = load_config_text("", ["cache.default_ttl_s=60", "scaling.policy=seed"])
    assert config.cache.default_ttl_s == 60.0
    assert config.scaling.policy == "seed"
    assert apply_overrides({"a": 1}, ["b.c=[1, 2]"]) == {"a": 1, "b": {"c": [1, 2]}}
    with pytest.raises(ConfigError, match=r"expected dotted\.path=value"):
        apply_overrides({}, ["novalue"])
    with pytest.raises(ConfigError, match=r"a\.b: a is not a section"):
        apply_overrides({"a": 1}, ["a.b=2"])


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")


def _perfcore(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "perfcore", *args], capture_output=True, text=True, timeout=60
    )


def test_cli_config_check_exit_codes(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(_perfcore("config", "defaults").stdout)
    assert _perfcore("config", "check", str(good)).returncode == 0

    bad = tmp_path / "bad.yaml"
    bad.write_text("queues:\n  job_defaults:\n    attempts: 0\n")
    result = _perfcore("config", "check", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: queues.job_defaults.attempts: Input should be greater than 0"
    )
    assert "Traceback" not in result.stderr


def test_cli_help_lists_every_subcommand() -> None:
    result = _perfcore("--help")
    assert result.returncode == 0
    for name in ("stack", "config", "cache", "simulate", "worker", "queues", "db", "scale"):
        assert f"  {name} " in result.stdout


def test_override_into_a_mapping_keeps_its_other_default_entries() -> None:
    config = load_config_text("", ["queues.routes.user_report={queue: low, priority: 4}"])
    defaults = PerfcoreConfig().queues.routes
    assert config.queues.routes["user_report"].queue == "low"
    assert set(config.queues.routes) == set(defaults)
    assert config.queues.routes["emergency_alert"] == defaults["emergency_alert"]
    # A file that spells out a mapping replaces it whole, as written.
    replaced = load_config_text("queues:\n  routes:\n    user_report: {queue: low, priority: 4}\n")
    assert set(replaced.queues.routes) == {"user_report"}


def test_usage_errors_are_one_line_with_exit_code_2() -> None:
    result = _perfcore("simulate", "--seed", "abc")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: Invalid value for '--seed': 'abc' is not a valid integer. "
        "(see 'perfcore simulate --help')"
    )
    assert _perfcore("no-such-command").returncode == 2


def test_override_picks_list_items_by_name_or_index() -> None:
    config = load_config_text(
        "", ["queues.queues.normal.concurrency=30", "queues.queues.0.concurrency=7"]
    )
    assert {q.name: q.concurrency for q in config.queues.queues} == {
        "critical": 7,
        "high": 15,
        "normal": 30,
        "low": 5,
    }
    with pytest.raises(ConfigError, match=r"no item 'nosuch' in the list"):
        load_config_text("", ["queues.queues.nosuch.concurrency=1"])
