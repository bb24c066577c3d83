"""Bad input over every subcommand: one line on stderr, the contract's exit code, no traceback.

Each case runs ``python -m perfcore`` as a subprocess in a scratch directory
(services are only ever 127.0.0.1:1, which refuses at once), with a bound on
its time: a hang fails the case.  Exit 2 is bad input, whose one line must
name the field or file; exit 1 a service that cannot be reached.  The cases
run a few at a time in threads, so the matrix costs well under a minute.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

TIMEOUT_S = 60  # far above any case (each needs 1-3 s); reaching it means a hang
DOWN = "redis://127.0.0.1:1/0"  # loopback, nothing listens: refused at once
DSN_DOWN = "mysql+pymysql://root:s3cret-pw@127.0.0.1:1/platform"
DEEP = "[" * 20_000 + "]" * 20_000  # 40 kB: fits one argv entry, far past any recursion limit
SWEEP_10100_POINTS = ["sweep", "--grid", "scaling.min_replicas=" + ",".join(map(str, range(1, 102))),
                      "--grid", "cache.default_ttl_s=" + ",".join(map(str, range(1, 101)))]  # fmt: skip
MONTH_OF_STREAM = "workload.streams=[{request_class: event_detail, rate_per_s: 100000}]"


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    code: int
    needle: str  # the field, file or problem the one line must name
    log_lines: bool = False  # the command logs its steps on stderr by design: check the last line


def case(name: str, args: str | list[str], code: int, needle: str, **kw: bool) -> Case:
    argv = tuple(args.split()) if isinstance(args, str) else tuple(args)
    return Case(name, argv, code, needle, **kw)


def _state(body: str) -> list[str]:
    return ["scale", "decide", "--state", body, "--json"]


CASES: list[Case] = [
    # ---- files that are not UTF-8 text
    case("config-binary", "config check bin.yaml", 2, "bin.yaml: not UTF-8"),
    case("simulate-binary", "simulate bin.yaml -q", 2, "bin.yaml: not UTF-8"),
    case("simulate-config-binary", "simulate --config bin.yaml -q", 2, "bin.yaml"),
    case("tune-binary", "tune bin.yaml --trials 1", 2, "bin.yaml"),
    case("state-binary", "scale decide --state @bin.json", 2, "bin.json: not UTF-8"),
    case("serve-config-binary", "serve --config bin.yaml", 2, "bin.yaml"),
    case("queues-config-binary", f"queues status --config bin.yaml --redis {DOWN}", 2, "bin.yaml"),
    case("cache-config-binary", f"cache stats --config bin.yaml --redis {DOWN}", 2, "bin.yaml"),
    case("worker-config-binary", "worker --queues low --config bin.yaml", 2, "bin.yaml"),
    case("db-config-binary", f"db advise --dsn {DSN_DOWN} --config bin.yaml", 2, "bin.yaml"),
    case(
        "stack-state-binary",
        "stack status --run-dir binstack",
        2,
        "stack.json: corrupt stack state (UnicodeDecodeError)",
    ),
    # ---- nesting deeper than any parser's stack
    case("config-deep", "config check deep.yaml", 2, "deep.yaml: invalid YAML: nested"),
    case("simulate-deep", "simulate deep.yaml -q", 2, "nested too deeply"),
    case("state-deep-file", "scale decide --state @deep.json", 2, "nested too deeply"),
    case("state-deep-inline", _state(DEEP), 2, "--state: invalid JSON: nested"),
    case("queues-data-deep", ["queues", "add", "dashboard_update", "--data", DEEP], 2, "--data"),
    case(
        "stack-state-deep",
        "stack status --run-dir deepstack",
        2,
        "corrupt stack state (RecursionError)",
    ),
    case("config-anchors", "config check laughs.yaml", 2, "scaling.worker_command"),
    # ---- numbers that are not finite or overflow
    case("config-inf", "config check inf.yaml", 2, "cache.default_ttl_s: Input should be a finite"),
    case(
        "config-1e400", "config check big.yaml", 2, "cache.default_ttl_s: Input should be a finite"
    ),
    case("config-nan", "config check nan.yaml", 2, "scaling.target_cpu: Input should be a finite"),
    case("config-1e23-replicas", "config check replicas.yaml", 2, "scaling.max_replicas"),
    case("config-set-inf", "config check ok.yaml --set scaling.interval_s=.inf", 2, "interval_s"),
    case(
        "simulate-nan-horizon",
        "simulate -q --set horizon_s=.nan",
        2,
        "horizon_s: Input should be a finite",
    ),
    case(
        "state-now-nan",
        _state('{"current_replicas": 2, "now": NaN}'),
        2,
        "NaN is not a JSON number",
    ),
    case(
        "state-now-nan-file", "scale decide --state @nan.json --json", 2, "NaN is not a JSON number"
    ),
    case("state-now-1e400", _state('{"current_replicas": 2, "now": 1e400}'), 2, "state.now"),
    case(
        "state-cpu-1e308",
        _state('{"current_replicas": 2, "metrics": {"cpu": 1e308}}'),
        2,
        "state.metrics.cpu",
    ),
    case(
        "state-replicas-1e23",
        _state('{"current_replicas": 100000000000000000000000}'),
        2,
        "state.current_replicas",
    ),
    case(
        "state-target-inf",
        _state('{"current_replicas": 2, "targets": {"target_cpu": 1e999}}'),
        2,
        "target_cpu",
    ),
    case(
        "state-history-inf",
        _state('{"current_replicas": 2, "history": {"events": [[1e999, 1, 2]]}}'),
        2,
        "state.history",
    ),
    case(
        "db-since-huge",
        ["db", "advise", "--dsn", DSN_DOWN, "--since", "9" * 400 + "h"],
        2,
        "since_hours",
    ),
    case("db-since-exponent", f"db advise --dsn {DSN_DOWN} --since 1e400h", 2, "--since"),
    case(
        "loadtest-run-time-1e400",
        "loadtest --host http://127.0.0.1:1 --run-time 1e400s",
        2,
        "--run-time",
    ),
    case("sweep-grid-out-of-range", "sweep --grid scaling.target_cpu=0.5,5", 2, "target_cpu"),
    case("sweep-grid-no-values", "sweep --grid scaling.min_replicas", 2, "--grid"),
    case("sweep-grid-huge", SWEEP_10100_POINTS, 2, "points"),
    case("sweep-seeds-0", "sweep --grid scaling.min_replicas=1,2 --seeds 0", 2, "--seeds"),
    case("tune-trials-huge", "tune --trials 100000000", 2, "--trials"),
    case("tune-seeds-0", "tune --seeds 0 --trials 1", 2, "--seeds"),
    case("tune-jobs-0", "tune --jobs 0 --trials 1", 2, "--jobs"),
    case("plan-slo-nan", "plan --attendees 6000 --slo-p95-ms nan", 2, "--slo-p95-ms"),
    case(
        "plan-attendees-huge",
        "plan --attendees 10000000000000 --slo-p95-ms 250",
        2,
        "total_attendees",
    ),
    case("plan-seeds-huge", "plan --attendees 6000 --slo-p95-ms 250 --seeds 100000", 2, "--seeds"),
    case(
        "tune-param-inf",
        "tune --param cache.default_ttl_s=1:inf --trials 1",
        2,
        "cache.default_ttl_s",
    ),
    # ---- values that would take unbounded memory or time
    case(
        "simulate-attendees-1e12",
        "simulate -q --set workload.events.total_attendees=1000000000000",
        2,
        "workload.events.total_attendees",
    ),
    case("simulate-horizon-1e15", "simulate horizon.yaml -q", 2, "horizon_s"),
    case(
        "simulate-views-budget",
        "simulate -q --set workload.events.total_attendees=5000000 --set workload.behaviour.detail_views=1000",
        2,
        "requests",
    ),
    case(
        "simulate-stream-month",
        ["simulate", "-q", "--set", "horizon_s=2592000", "--set", MONTH_OF_STREAM],
        2,
        "requests",
    ),
    case(
        "simulate-analytics-every-ms",
        "simulate -q --set workload.event_jobs.analytics_every_s=0.001",
        2,
        "analytics_every_s",
    ),
    case(
        "simulate-events-count",
        "simulate -q --set workload.events.count=100000000",
        2,
        "workload.events.count",
    ),
    case(
        "config-concurrency-1e9",
        "config check ok.yaml --set queues.queues.low.concurrency=1000000000",
        2,
        "concurrency",
    ),
    # ---- files that are not regular files, or paths under a file
    case("config-fifo", "config check fifo", 2, "fifo: cannot read: not a regular file"),
    case("simulate-config-fifo", "simulate -q --config fifo", 2, "fifo: cannot read"),
    case("state-fifo", "scale decide --state @fifo", 2, "fifo: cannot read"),
    case("serve-config-fifo", "serve --config fifo", 2, "fifo: cannot read"),
    case("config-device", "config check /dev/zero", 2, "not a regular file"),
    case("config-directory", "config check .", 2, "a directory"),
    case("config-missing", "config check missing.yaml", 2, "missing.yaml: cannot read"),
    case("config-under-file", "config check afile/x.yaml", 2, "afile/x.yaml"),
    case(
        "loadtest-out-file",
        "loadtest --host http://127.0.0.1:1 --run-time 1s --out afile",
        2,
        "--out",
    ),
    case(
        "loadtest-out-under-file",
        "loadtest --host http://127.0.0.1:1 --run-time 1s --out afile/sub",
        2,
        "afile",
    ),
    case(
        "simulate-out-under-file",
        "simulate -q --set horizon_s=60 --out afile/sub",
        2,
        "afile is not a directory",
    ),
    case("stack-up-run-dir-file", "stack up --run-dir afile --only redis_cache", 2, "--run-dir"),
    case("stack-status-run-dir-file", "stack status --run-dir afile", 2, "--run-dir"),
    case(
        "loadtest-locustfile-fifo",
        "loadtest --host http://127.0.0.1:1 --run-time 1s --locustfile fifo",
        2,
        "--locustfile",
    ),
    # ---- corrupt state files
    case("stack-state-not-json", "stack status --run-dir badjson", 2, "stack.json: corrupt stack"),
    case("stack-state-pid-minus-one", "stack down --run-dir badpid", 2, "pids"),
    case(
        "stack-state-list",
        "stack up --run-dir badlist --only redis_cache",
        2,
        "corrupt stack state",
    ),
    # ---- schema violations (pydantic), named by field
    case("config-unknown-key", "config check typo.yaml", 2, "cache.default_tll_s"),
    case("config-set-bad-path", "config check ok.yaml --set =1", 2, "--set"),
    case("state-not-object", _state("[1, 2]"), 2, "state.(root)"),
    case("state-invalid-json", _state("{nope"), 2, "--state: invalid JSON"),
    case(
        "state-target-unknown",
        _state('{"current_replicas": 2, "targets": {"nope": 1}}'),
        2,
        "state.targets.nope",
    ),
    case(
        "scale-run-bad-set",
        "scale run --actuator processes --set scaling.min_replicas=0 --max-steps 1",
        2,
        "scaling.min_replicas",
    ),
    # ---- glob or pattern injection in prefixes
    case("cache-stats-prefix-star", f"cache stats --prefix * --redis {DOWN}", 2, "--prefix"),
    case(
        "cache-invalidate-prefix-glob",
        f"cache invalidate x --prefix a[b --redis {DOWN}",
        2,
        "--prefix",
    ),
    case(
        "queues-prefix-star",
        ["queues", "status", "--set", 'queues.prefix="*"', "--redis", DOWN],
        2,
        "queues.prefix",
    ),
    case("cache-prefix-in-config", "cache stats --config prefix.yaml", 2, "cache.key_prefix"),
    # ---- jobs no worker would accept
    case(
        "queues-add-unknown-type",
        f"queues add nosuchtype --redis {DOWN}",
        2,
        "unknown job type 'nosuchtype'",
    ),
    case(
        "queues-add-bad-table",
        ["queues", "add", "data_export", "--data", '{"table": "users"}', "--redis", DOWN],
        2,
        "--data.table",
    ),
    case(
        "queues-add-missing-field",
        ["queues", "add", "emergency_alert", "--data", '{"recipient": "a@b"}', "--redis", DOWN],
        2,
        "--data.subject",
    ),
    case(
        "queues-add-extra-field",
        ["queues", "add", "user_report", "--data", '{"bogus": 1}', "--redis", DOWN],
        2,
        "--data.bogus",
    ),
    case(
        "queues-add-wrong-type",
        [
            "queues",
            "add",
            "analytics_processing",
            "--data",
            '{"event_ids": "all"}',
            "--redis",
            DOWN,
        ],
        2,
        "--data.event_ids",
    ),
    case(
        "queues-add-not-object",
        ["queues", "add", "analytics_processing", "--data", "[1]", "--redis", DOWN],
        2,
        "--data",
    ),
    case(
        "queues-add-nan",
        [
            "queues",
            "add",
            "analytics_processing",
            "--data",
            '{"event_ids": [NaN]}',
            "--redis",
            DOWN,
        ],
        2,
        "NaN",
    ),
    case(
        "queues-add-unknown-queue",
        f"queues add analytics_processing --queue nope --redis {DOWN}",
        2,
        "--queue",
    ),
    # ---- malformed service URLs are bad input, not unreachable servers
    case(
        "db-dsn-bad-port",
        "db advise --dsn mysql+pymysql://root:s3cret-pw@127.0.0.1:notaport/x",
        2,
        "--dsn: the port",
    ),
    case(
        "db-dsn-bad-host", "db advise --dsn mysql+pymysql://root@[bad/x", 2, "--dsn: malformed host"
    ),
    case("db-dsn-scheme", "db workload --dsn postgresql://root@127.0.0.1/x", 2, "--dsn"),
    case("db-seed-bad-port", "db seed --dsn mysql+pymysql://root@127.0.0.1:99999/x", 2, "--dsn"),
    case("queues-redis-bad-host", "queues status --redis redis://[bad", 2, "queues.redis_url"),
    case(
        "cache-redis-bad-port", "cache stats --redis redis://127.0.0.1:notaport/0", 2, "redis_url"
    ),
    case(
        "worker-redis-bad-host", "worker --queues low --redis redis://[bad", 2, "queues.redis_url"
    ),
    case(
        "serve-database-url-bad-port",
        "serve --database-url mysql+pymysql://root@127.0.0.1:notaport/x",
        2,
        "--database-url",
    ),
    case(
        "init-db-bad-port",
        "queues init-db --database-url mysql+pymysql://root@127.0.0.1:notaport/x",
        2,
        "database_url",
    ),
    case("calibrate-no-dir", "calibrate nosuchdir --out c.yaml", 2, "MEASURED_DIR"),
    case("calibrate-empty-dir", "calibrate emptydir --out c.yaml", 2, "metrics_before.prom"),
    case("validate-no-dir", "validate --measured nosuchdir", 2, "--measured"),
    case("validate-empty-dir", "validate --measured emptydir", 2, "locust_final.json"),
    case("loadtest-host-bad", "loadtest --host http://[bad --run-time 1s", 2, "--host"),
    case("loadtest-host-remote", "loadtest --host http://example.com --run-time 1s", 2, "--host"),
    # ---- usage errors
    case("unknown-command", "nosuchcommand", 2, "No such command"),
    case("config-check-no-file", "config check", 2, "FILE"),
    case("serve-port-0", "serve --port 0", 2, "--port"),
    case("worker-concurrency-0", "worker --queues low --concurrency 0", 2, "--concurrency"),
    case("tune-trials-text", "tune --trials many", 2, "--trials"),
    case("stack-up-unknown-service", "stack up --only nosuch", 2, "nosuch"),
    # ---- unreachable services: one line, exit 1
    case("queues-status-down", f"queues status --redis {DOWN}", 1, "unreachable"),
    case("queues-add-down", f"queues add dashboard_update --redis {DOWN}", 1, "unreachable"),
    case("cache-stats-down", f"cache stats --redis {DOWN}", 1, "127.0.0.1:1"),
    case("db-advise-down", f"db advise --dsn {DSN_DOWN}", 1, "cannot reach"),
    case(
        "scale-run-all-blind",
        f"scale run --actuator processes --metrics bullmq --policy queue-backlog --redis {DOWN} --max-steps 2 --interval 0.1 --dry-run",
        1,
        "no step of 2",
        log_lines=True,
    ),
]


def _write_inputs(d: Path) -> None:
    (d / "bin.yaml").write_bytes(b"\xff\xfe\x00binary\x80")
    (d / "bin.json").write_bytes(b"\xff\xfe{}")
    (d / "deep.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    (d / "deep.json").write_text(DEEP)
    (d / "ok.yaml").write_text("{}\n")
    (d / "inf.yaml").write_text("cache: {default_ttl_s: .inf}\n")
    (d / "big.yaml").write_text("cache: {default_ttl_s: 1.0e+400}\n")
    (d / "nan.yaml").write_text("scaling: {target_cpu: .nan}\n")
    (d / "replicas.yaml").write_text("scaling: {max_replicas: 100000000000000000000000}\n")
    (d / "horizon.yaml").write_text("horizon_s: 1.0e+15\n")
    (d / "typo.yaml").write_text("cache: {default_tll_s: 60}\n")
    (d / "prefix.yaml").write_text("cache: {key_prefix: 'a*'}\n")
    (d / "nan.json").write_text('{"current_replicas": 2, "now": NaN}')
    (d / "afile").write_text("a file, not a directory\n")
    os.mkfifo(d / "fifo")
    # YAML anchors: nine levels of nine references (a "billion laughs" document).
    rows = ['x0: &x0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    rows += [f"x{i}: &x{i} [{','.join([f'*x{i - 1}'] * 9)}]" for i in range(1, 9)]
    (d / "laughs.yaml").write_text(
        "_:\n" + "\n".join("  " + row for row in rows) + "\nscaling:\n  worker_command: *x8\n"
    )
    stacks = {
        "binstack": b"\xff",
        "deepstack": DEEP.encode(),
        "badjson": b"{not json",
        "badpid": b'{"redis_cache": {"url": "redis://127.0.0.1:1/0", "pids": [-1], "ports": [1]}}',
        "badlist": b"[1, 2]",
    }
    for name, body in stacks.items():
        (d / name).mkdir()
        (d / name / "stack.json").write_bytes(body)
    (d / "emptydir").mkdir()  # a measured-run directory with nothing in it


Outcome = Future[subprocess.CompletedProcess[str]]


def _run(c: Case, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PERFCORE_DEBUG", "PERFCORE_DB_DSN"}}
    env["PERFCORE_RUN_DIR"] = str(cwd / "no-stack")  # never a running test stack's URLs
    try:
        return subprocess.run(
            [sys.executable, "-m", "perfcore", *c.args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{c.name}: no answer within {TIMEOUT_S} s (a hang)")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    cwd = tmp_path_factory.mktemp("bad-input")
    _write_inputs(cwd)
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {c.name: pool.submit(_run, c, cwd) for c in CASES}
        yield futures


def test_the_matrix_covers_every_subcommand() -> None:
    from perfcore.commands import registered

    covered = {c.args[0] for c in CASES}
    assert set(registered()) <= covered | {"nosuchcommand"}, set(registered()) - covered
    assert len(CASES) >= 60
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_line_and_an_exit_code(c: Case, outcomes: dict[str, Outcome]) -> None:
    result = outcomes[c.name].result()
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == c.code, (result.returncode, result.stderr[-1000:])
    if not c.log_lines:
        assert len(lines) == 1, result.stderr[-2000:]
    line = lines[-1]
    assert line.startswith(("error: ", "check failed: ")), line
    assert c.needle in line, line
    assert "s3cret-pw" not in result.stderr + result.stdout
    assert "internal error" not in line
