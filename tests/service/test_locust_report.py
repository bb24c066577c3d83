"""Run-time bounds and the summary read from Locust's CSV stats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from perfcore.errors import BadInput
from perfcore.service.locust_report import MAX_RUN_TIME_S, format_table, parse_run_time, summarize

HEADER = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
    "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
)


@pytest.mark.parametrize(
    ("text", "seconds"), [("30", 30), ("30s", 30), ("2m", 120), ("1m30s", 90), ("10m", 600)]
)
def test_run_time(text: str, seconds: int) -> None:
    assert parse_run_time(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "0s", "11m", "1h", "forever", "-5s", "3x"])
def test_unbounded_or_malformed_run_time_is_bad_input(text: str) -> None:
    with pytest.raises(BadInput, match=r"^--run-time: "):
        parse_run_time(text)
    assert MAX_RUN_TIME_S == 600


def test_run_time_grammar_is_locusts() -> None:
    texts = ["30", "30s", "2m", "1m30s", "10m", "1h", "1h2m3s", "90s", "2m0s", "forever", "1m30"]
    # In a subprocess: importing locust monkey-patches the interpreter (gevent).
    script = (
        "import json, sys\n"
        "from locust.util.timespan import parse_timespan\n"
        "def parse(t):\n"
        "    try:\n"
        "        return parse_timespan(t)\n"
        "    except ValueError:\n"
        "        return None\n"
        "print(json.dumps([parse(t) for t in json.loads(sys.argv[1])]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(texts)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    locust = json.loads(result.stdout)

    def ours(text: str) -> int | None:
        try:
            return parse_run_time(text, cap_s=10**6)
        except BadInput:
            return None

    assert [ours(text) for text in texts] == locust
    assert locust[:3] == [30, 30, 120] and locust[-2:] == [None, None]


def test_summary_per_endpoint_and_total(tmp_path: Path) -> None:
    stats = tmp_path / "run_stats.csv"
    stats.write_text(
        "\n".join(
            [
                HEADER,
                "GET,/events/{event_id},90,0,5,6.1,1,40,300,9.0,0,5,6,7,8,12,20,31,39,40,40,40",
                "POST,/events/{event_id}/registrations,10,1,9,11,3,80,80,1.0,0.1,9,10,11,12,30,60,75,80,80,80,80",
                "GET,/events/{event_id}/dashboard,0,0,0,0,0,0,0,0,0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A",
                ",Aggregated,100,1,5,6.6,1,80,278,10.0,0.1,5,6,7,8,14,22,40,70,80,80,80",
            ]
        )
        + "\n"
    )
    summary = summarize(stats)
    assert summary["requests"] == 100 and summary["failures"] == 1
    assert summary["failure_ratio"] == pytest.approx(0.01)
    assert summary["latency_ms"] == {"p50": 5.0, "p95": 22.0, "p99": 70.0}
    post = summary["endpoints"]["POST /events/{event_id}/registrations"]
    assert post["latency_ms"]["p95"] == 60.0 and post["failures"] == 1
    assert summary["endpoints"]["GET /events/{event_id}/dashboard"]["latency_ms"]["p50"] is None
    table = format_table(summary)
    assert "POST /events/{event_id}/registrations" in table and table.splitlines()[-1].startswith(
        "total"
    )


def test_missing_stats_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="cannot read"):
        summarize(tmp_path / "nothing_stats.csv")
    (tmp_path / "x_stats.csv").write_text(HEADER + "\n")
    with pytest.raises(BadInput, match="no Aggregated row"):
        summarize(tmp_path / "x_stats.csv")


def test_final_json_stats_give_exact_counts_and_percentiles(tmp_path: Path) -> None:
    import json

    from perfcore.service.locust_report import percentile_of, summarize_json

    entries = [
        {"name": "/a", "method": "GET", "start_time": 100.0, "last_request_timestamp": 110.0,
         "num_requests": 100, "num_failures": 2, "response_times": {str(ms): 1 for ms in range(1, 101)}},
        {"name": "/b", "method": "POST", "start_time": 101.0, "last_request_timestamp": 105.0,
         "num_requests": 4, "num_failures": 0, "response_times": {"7": 4}},
    ]  # fmt: skip
    (tmp_path / "final.json").write_text(json.dumps(entries))
    summary = summarize_json(tmp_path / "final.json")
    a = summary["endpoints"]["GET /a"]
    assert a["latency_ms"] == {"p50": 50.0, "p95": 95.0, "p99": 99.0}
    assert a["requests_per_s"] == 10.0 and a["failure_ratio"] == 0.02
    assert summary["requests"] == 104 and summary["failures"] == 2
    assert summary["endpoints"]["POST /b"]["latency_ms"]["p99"] == 7.0
    assert percentile_of({}, 0.5) is None
