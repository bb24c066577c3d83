"""``perfcore loadtest``: Locust against loopback or an allow-listed host, bounded in time.

Two ways to say what load to send:

* ``--scenario S.yaml [--window START-END] [--rate-scale K] [--time-scale K]``:
  the scenario's own offered load, per request class and second
  (:mod:`simulation.loadplan`), played open loop by ``loadtests/scenario_users.py``;
  the plan is written to ``plan.json`` in ``--out`` so ``perfcore validate``
  knows what was offered;
* ``--users N --run-time T [--shape ...]``: closed-loop users with think time in
  the default scenario's mix (a quick smoke; not comparable to the model).

The host is checked against loopback, ``loadtest.allowed_hosts`` (in the
scenario or ``--config``) and ``--allow-host``, parsed as the HTTP client
parses it. Exit 2 on bad input (naming the field), 1 on no requests or too many
failures.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from perfcore.cli_options import config_option, json_option, out_option, set_option
from perfcore.config import LoadTestConfig, load_config
from perfcore.errors import BadInput
from perfcore.service import locust_run
from perfcore.service.locust_report import parse_run_time


@click.command()
@click.option("--host", required=True, help="base URL: loopback, or an allow-listed host")
@click.option("--scenario", "scenario_path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--window", default=None, help="scenario time to play, START-END (e.g. 17h-18h)")
@click.option("--rate-scale", type=click.FloatRange(min=0, min_open=True), default=1.0)
@click.option(
    "--time-scale",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="scenario seconds per load-test second (default: from --run-time, else 1)",
)
@click.option("--users", type=click.IntRange(1, 10_000), default=10, show_default=True)
@click.option("--spawn-rate", type=click.FloatRange(min=0.1), default=2.0, show_default=True)
@click.option(
    "--run-time", "run_time", default=None, help="e.g. 30s, 2m (bound: loadtest.max_run_time_s)"
)
@click.option(
    "--shape",
    type=click.Choice(sorted(locust_run.SHAPES)),
    default="steady",
    show_default=True,
    help="without --scenario: steady users, or a registration ramp then a check-in spike",
)
@click.option("--allow-host", multiple=True, help="a non-loopback host this run may target")
@click.option("--processes", type=click.IntRange(1, 64), default=1, help="Locust --processes")
@click.option(
    "--warmup",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="capture /metrics again this long after the start: validate then compares the run"
    " without its start (cold caches); 0: no mark",
)
@click.option("--locustfile", type=click.Path(path_type=Path), default=None)
@config_option
@set_option
@click.option("--max-failure-ratio", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@json_option
@out_option
def loadtest(
    host: str,
    scenario_path: Path | None,
    window: str | None,
    rate_scale: float,
    time_scale: float | None,
    users: int,
    spawn_rate: float,
    run_time: str | None,
    shape: str,
    allow_host: tuple[str, ...],
    processes: int,
    warmup: float,
    locustfile: Path | None,
    config_path: Path | None,
    overrides: tuple[str, ...],
    max_failure_ratio: float,
    as_json: bool,
    out: Path | None,
) -> None:
    """Load-test a target with Locust (headless, bounded, allow-listed hosts only)."""
    locustfile = locustfile or locust_run.default_locustfile()
    if not locustfile.is_file():
        raise BadInput(f"--locustfile: {locustfile} not found")
    if scenario_path is None:
        config = load_config(config_path, list(overrides)).loadtest
        target = locust_run.resolve_target(host, config, allow_host)
        if run_time is None:
            raise BadInput("--run-time: required without --scenario")
        seconds = parse_run_time(run_time, config.max_run_time_s)
        files = [locustfile]
        if locust_run.SHAPES[shape]:
            files.append(locustfile.parent / str(locust_run.SHAPES[shape]))
        settings: dict[str, Any] = {"users": users, "spawn_rate": spawn_rate, "shape": shape}
        click.echo(f"locust: {users} users, {seconds} s against {target.url} ({shape})", err=True)
        summary = locust_run.run(
            files,
            target,
            seconds,
            out,
            settings,
            users=users,
            spawn_rate=spawn_rate,
            allowed=[*config.allowed_hosts, *allow_host],
            processes=processes,
            warmup_s=warmup,
        )
    else:
        summary = _scenario_run(
            host,
            scenario_path,
            window,
            rate_scale,
            time_scale,
            run_time,
            allow_host,
            processes,
            locustfile,
            config_path,
            overrides,
            out,
            warmup,
        )
    locust_run.report(summary, as_json, max_failure_ratio)


def _scenario_run(
    host: str,
    scenario_path: Path,
    window_text: str | None,
    rate_scale: float,
    time_scale: float | None,
    run_time: str | None,
    allow_host: tuple[str, ...],
    processes: int,
    locustfile: Path,
    config_path: Path | None,
    overrides: tuple[str, ...],
    out: Path | None,
    warmup: float,
) -> dict[str, Any]:
    from simulation.loadplan import Window, build_plan, offered_requests
    from simulation.scenario import load_scenario

    scenario = load_scenario(scenario_path, list(overrides), config_path=config_path)
    config: LoadTestConfig = scenario.loadtest
    target = locust_run.resolve_target(host, config, allow_host)
    window = Window.parse(window_text, scenario)
    if time_scale is None:
        time_scale = (
            window.length_s / parse_run_time(run_time, config.max_run_time_s) if run_time else 1.0
        )
    plan = build_plan(scenario, window, rate_scale=rate_scale, time_scale=time_scale)
    seconds = int(plan["duration_s"])
    if seconds > config.max_run_time_s:
        raise BadInput(
            f"--window/--time-scale: the run would take {seconds} s, more than"
            f" loadtest.max_run_time_s ({config.max_run_time_s} s)"
        )
    if offered_requests(plan) < 1:
        raise BadInput(
            f"--window: the scenario offers no requests in {window_text or 'its horizon'}"
        )
    plan_dir = out or Path.cwd() / ".perfcore"
    plan_dir.mkdir(parents=True, exist_ok=True)
    plan_path = plan_dir / "plan.json"
    plan_path.write_text(json.dumps(plan) + "\n", encoding="utf-8")
    peak = max(plan["users"])
    click.echo(
        f"locust: scenario {scenario_path.name}, {seconds} s, open loop, up to {peak} users,"
        f" {offered_requests(plan):.0f} requests offered, against {target.url}",
        err=True,
    )
    settings = {
        "scenario": str(scenario_path),
        "window_s": plan["window_s"],
        "rate_scale": rate_scale,
        "time_scale": time_scale,
        "offered_requests": round(offered_requests(plan), 1),
        "peak_users": peak,
        "plan": str(plan_path),
    }
    return locust_run.run(
        [
            locustfile.parent / locust_run.SCENARIO_USERS,
        ],
        target,
        seconds + 2,
        out,
        settings,
        allowed=[*config.allowed_hosts, *allow_host],
        processes=processes,
        warmup_s=warmup,
        extra=["--plan", str(plan_path)],
    )
