"""The index advisor pipeline, top to bottom.

collect → fingerprint and aggregate → analyse (sqlglot) → candidates →
what-if verification on the planner → apply (only when asked) →
partitioning suggestions → report.  Every statement goes through one
:class:`~perfcore.dbopt.session.Session`, so the report can say exactly what
was sent.
"""

from __future__ import annotations

import datetime as dt
import logging
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import sqlalchemy.exc

from perfcore.config import DbOptConfig
from perfcore.dbopt import apply, collect, measured, partition, plan, privileges
from perfcore.dbopt.analyze import NotAnalysable, analyze
from perfcore.dbopt.candidates import Analysed, Candidate, propose, served_by_existing, size_of
from perfcore.dbopt.fingerprint import QueryStats, aggregate, fingerprint
from perfcore.dbopt.plan import IndexPlan, schema_fingerprint
from perfcore.dbopt.planner import Flavour, detect_flavour, is_connection_error, server_reason
from perfcore.dbopt.report import IndexSuggestion, QuerySummary, Report, ServedQuery
from perfcore.dbopt.schema import Catalog, Table, qualified, quote, read_catalog
from perfcore.dbopt.session import Session, connect
from perfcore.dbopt.verify import Verdict, WhatIf, invisible_visible, plan_all, what_if
from perfcore.errors import BadInput, CheckFailed, ServiceUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class AdviseOptions:
    dsn: str
    apply: bool = False
    slow_log_file: Path | None = None
    use_slow_log: bool = True  # read mysql.slow_log
    use_digest: bool = True  # read performance_schema digests where they carry samples
    # Timing a query means running it (ANALYZE FORMAT=JSON / EXPLAIN ANALYZE), which
    # executes logged SQL, so it is opt-in; plans alone only ever EXPLAIN.
    measure_latency: bool = False


def advise(options: AdviseOptions, config: DbOptConfig, session: Session | None = None) -> Report:
    """Run the whole pipeline against ``options.dsn`` (or an open ``session``)."""
    if session is not None:
        return _advise(session, options, config)
    return _with_session(options.dsn, lambda s: _advise(s, options, config))


def apply_plan(dsn: str, index_plan: IndexPlan, config: DbOptConfig) -> list[str]:
    """Build exactly the indexes of ``index_plan`` on ``dsn`` (see :mod:`perfcore.dbopt.plan`)."""

    def work(session: Session) -> list[str]:
        flavour = detect_flavour(session)
        catalog = read_catalog(session, str(session.scalar("SELECT DATABASE()")))
        return plan.execute(session, flavour, catalog, index_plan, config.lock_wait_timeout_s)

    return _with_session(dsn, work)


def _with_session(dsn: str, work: Callable[[Session], T]) -> T:
    """``work`` on a fresh connection; an unreachable server and a refused statement are told apart."""
    engine = connect(dsn)
    try:
        with engine.connect() as connection:
            return work(Session(connection))
    except sqlalchemy.exc.DBAPIError as exc:
        if is_connection_error(exc) or not _connected(engine):
            raise ServiceUnavailable(
                f"dsn: cannot reach the server: {str(exc.orig).splitlines()[0]}"
            ) from None
        raise CheckFailed(f"the server refused a statement: {server_reason(exc)}") from None
    finally:
        engine.dispose()


def _connected(engine: sqlalchemy.Engine) -> bool:
    """Whether the server answers at all (an error then concerns a statement, not the link)."""
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        return True
    except sqlalchemy.exc.DBAPIError:
        return False


def observe(
    session: Session, options: AdviseOptions, config: DbOptConfig
) -> tuple[Catalog, list[Analysed], list[QuerySummary]]:
    """The first half of the pipeline: the catalog and the analysed slow query shapes."""
    database = session.scalar("SELECT DATABASE()")
    if not database:
        raise BadInput("dsn: name a database, e.g. mysql+pymysql://user@host:3306/platform")
    stats = [
        s
        for s in _collect(session, options, config, str(database))
        if s.skipped is not None or s.mean_s >= config.min_query_time_s
    ]
    catalog = read_catalog(session, str(database))
    summaries: list[QuerySummary] = []
    return catalog, _analyse(stats, catalog, summaries), summaries


def _advise(session: Session, options: AdviseOptions, config: DbOptConfig) -> Report:
    flavour = detect_flavour(session)
    session.time_limit_s = config.statement_timeout_s
    catalog, analysed, summaries = observe(session, options, config)
    report = Report(catalog.database, f"{flavour.name} {flavour.version[0]}.{flavour.version[1]}",
                    options.apply, config.min_savings_pct, queries=summaries)  # fmt: skip
    report.warnings = privileges.warnings(session)
    report.schema_fingerprint = schema_fingerprint(catalog)
    # One consistent state: fresh statistics for every table the workload reads, so a
    # dry run and the apply after it (or two dry runs) judge from the same estimates.
    read = {u.table for _, a in analysed for u in a.usages}
    apply.analyze_tables(session, catalog, read)
    errors: dict[str, str] = {}
    before = plan_all(session, analysed, errors)
    analysed = _without(analysed, errors, summaries)
    log.info("%d slow query shapes, %d planned", len(summaries), len(analysed))
    candidates = propose(analysed, catalog, config.max_index_columns, config.min_table_rows)
    measure = options.measure_latency
    latency_before = _latencies(session, flavour, analysed, config) if measure else {}
    result = what_if(
        session, flavour, catalog, candidates, analysed, before=before,
        min_savings_pct=config.min_savings_pct, top=config.top,
        lock_wait_timeout_s=config.lock_wait_timeout_s,
        prune_cost_factor=config.prune_cost_factor,
    )  # fmt: skip
    try:
        latency_after = _verify(session, flavour, catalog, result, analysed, latency_before, config)
    except BaseException:
        for candidate in result.built:
            apply.drop_index(session, catalog, candidate)
        raise
    if options.apply and result.built:
        for candidate in result.built:
            if flavour.has_invisible_indexes:
                apply.make_visible(session, catalog, candidate)
    else:
        for candidate in result.built:
            apply.drop_index(session, catalog, candidate)
    # Leave statistics as fresh as the run found them (the builds and drops shifted them).
    apply.analyze_tables(session, catalog, read | {c.table for c in result.built})
    _fill(report, result, catalog, options, latency_before, latency_after)
    report.partitioning = partition.suggest(
        catalog, analysed, _bounds(session, catalog),
        min_rows=config.partition_min_rows, min_share=config.partition_min_share,
    )  # fmt: skip
    report.statements_sent = len(session.statements)
    return report


def _verify(
    session: Session,
    flavour: Flavour,
    catalog: Catalog,
    result: WhatIf,
    analysed: Sequence[Analysed],
    latency_before: dict[str, float | None],
    config: DbOptConfig,
) -> dict[str, float | None]:
    """With ``--measure-latency``: keep only indexes under which no statement measurably regresses.

    Slots freed by a dropped index go to the next accepted candidates (see
    :func:`perfcore.dbopt.measured.verify`); ``result`` ends up describing the kept set.
    """
    if not latency_before or not result.built:
        return {}
    ranked = result.ranked  # accepted and not redundant, chosen first
    by_name = {v.candidate.name: v for v in ranked}
    fallbacks = _fallbacks(ranked, catalog, by_name)
    present = {c.name: c for c in result.built}

    def build(name: str) -> bool:
        candidate = by_name[name].candidate
        problem = apply.create_index(
            session, flavour, catalog, candidate, config.lock_wait_timeout_s
        )
        if problem is None:
            present[name] = candidate
            result.built.append(candidate)  # so an error later still drops it
        return problem is None

    def drop(name: str) -> None:
        candidate = present.pop(name)
        apply.drop_index(session, catalog, candidate)
        result.built.remove(candidate)

    statements = {s.fingerprint: a.explain_sql for s, a in analysed}

    def paired(fingerprint: str, names: list[str]) -> tuple[float | None, float | None] | None:
        """With and without ``names`` (IGNORED in between), interleaved; medians."""
        if not flavour.has_ignored_indexes:
            return None
        runs: tuple[list[float | None], list[float | None]] = ([], [])
        try:
            for _ in range(config.measure_runs):
                for hidden, times in ((False, runs[0]), (True, runs[1])):
                    for name in names:
                        session.run(apply.ignored_sql(catalog, present[name], ignored=hidden))
                    times.append(measured.median_ms(
                        session, flavour, statements[fingerprint], 1, config.measure_timeout_s))  # fmt: skip
        finally:
            for name in names:
                session.run(apply.ignored_sql(catalog, present[name], ignored=False))
        return _median(runs[0]), _median(runs[1])

    actions = measured.Actions(
        plans=lambda: plan_all(session, analysed),
        measure=lambda only: _latencies(session, flavour, analysed, config, only),
        build=build,
        drop=drop,
        paired=paired,
    )
    with invisible_visible(session, flavour):
        rules = measured.Rules(
            config.max_slowdown, {s.fingerprint: float(s.count) for s, _ in analysed},
            config.min_measured_gain_pct / 100, fallbacks,
        )  # fmt: skip
        outcome = measured.verify(
            list(present),
            [v.candidate.name for v in ranked],
            config.top,
            actions,
            latency_before,
            result.before,
            rules,
        )
        result.after = plan_all(session, analysed)
    result.built = [present[name] for name in outcome.kept]
    result.chosen = [by_name[name] for name in outcome.kept]
    for name, verdict in by_name.items():
        if name in outcome.kept:
            verdict.accepted, verdict.reason = True, "used by the planner, verified by measurement"
        elif name in outcome.dropped:
            verdict.accepted, verdict.reason = False, outcome.dropped[name]
        else:
            continue
        if verdict not in result.verdicts:  # a fallback that was built: report it too
            result.verdicts.append(verdict)
    return outcome.after


def _median(times: Sequence[float | None]) -> float | None:
    """The median run; None if any run was cut short (it was at least that slow)."""
    if any(t is None for t in times):
        return None
    return statistics.median(t for t in times if t is not None)


def _fallbacks(
    ranked: Sequence[Verdict], catalog: Catalog, by_name: dict[str, Verdict]
) -> dict[str, str]:
    """Composite -> its leading column alone, the index that gets its slot if it regresses.

    The all-at-once what-if never shows the narrow variant's worth (the
    planner prefers the composite while both exist), so it is added here, as a
    verdict of its own in ``by_name``, for :func:`perfcore.dbopt.measured.verify`.
    """
    found: dict[str, str] = {}
    for verdict in ranked:
        wide = verdict.candidate
        table = catalog.tables[wide.table]
        narrow = Candidate(wide.table, wide.columns[:1], 1, wide.queries, wide.weight_s,
                           size_of(table, wide.columns[:1]))  # fmt: skip
        if len(wide.columns) < 2 or served_by_existing(table, narrow.columns, 1):
            continue
        if narrow.name in by_name and narrow.name not in found.values():
            continue  # a candidate of its own already, ranked by its own verdict
        by_name.setdefault(narrow.name, Verdict(narrow, reason=f"stands in for {wide.name}"))
        found[wide.name] = narrow.name
    return found


def _fill(
    report: Report,
    result: WhatIf,
    catalog: Catalog,
    options: AdviseOptions,
    latency_before: dict[str, float | None],
    latency_after: dict[str, float | None],
) -> None:
    """Suggestions (with the statements each serves), rejections, per-statement latencies."""
    chosen_names = {c.name for c in result.built}
    for verdict in result.chosen:
        candidate = verdict.candidate
        served = [
            ServedQuery(
                fp,
                *result.before[fp].cost_measure(plan),
                latency_before.get(fp),
                latency_after.get(fp, latency_before.get(fp)) if latency_before else None,
            )
            for fp, plan in result.after.items()
            if candidate.name in plan.keys and fp in result.before
        ]
        report.suggestions.append(
            IndexSuggestion(
                table=candidate.table,
                columns=list(candidate.columns),
                name=candidate.name,
                ddl=apply.create_index_sql(catalog, candidate, invisible=False),
                applied=options.apply and candidate.name in chosen_names,
                benefit_s=round(verdict.benefit_s, 6),
                size_bytes=candidate.size_bytes,
                queries=served,
            )
        )
    chosen = {v.candidate.name for v in result.chosen}
    report.rejected = [
        {"table": v.candidate.table, "columns": list(v.candidate.columns), "reason": v.reason}
        for v in result.verdicts
        if v.candidate.name not in chosen
    ]
    for summary in report.queries:
        if summary.fingerprint in latency_before:
            summary.latency_before_ms = latency_before[summary.fingerprint]
            summary.latency_after_ms = latency_after.get(
                summary.fingerprint, latency_before[summary.fingerprint]
            )


def _without(
    analysed: Sequence[Analysed], errors: dict[str, str], summaries: list[QuerySummary]
) -> list[Analysed]:
    """Statements the server could plan; the others are marked skipped with its reason."""
    for summary in summaries:
        if summary.fingerprint in errors and summary.skipped is None:
            summary.skipped = f"the server cannot plan it: {errors[summary.fingerprint]}"
    return [(s, a) for s, a in analysed if s.fingerprint not in errors]


def _collect(
    session: Session, options: AdviseOptions, config: DbOptConfig, database: str
) -> list[QueryStats]:
    """Samples of ``database`` (or of no known database), aggregated per fingerprint.

    Filtering happens before aggregation: the same statement text run against
    another database on the same server is another workload, not this one.
    """
    samples: list[collect.Sample] = []
    if options.use_slow_log:
        samples += collect.from_slow_log(session, config.since_hours, config.max_log_rows)
    if options.slow_log_file is not None:
        samples += collect.from_file(options.slow_log_file)
    if options.use_digest:
        # A digest row counts statements the slow log already holds: use it only for new shapes.
        seen = {fingerprint(s.sql) for s in samples}
        digests = collect.from_digest(session, config.since_hours, config.max_log_rows)
        samples += [d for d in digests if fingerprint(d.sql) not in seen]
    return aggregate(s for s in samples if s.db in (None, "", database))


def _analyse(
    stats: Sequence[QueryStats], catalog: Catalog, summaries: list[QuerySummary]
) -> list[Analysed]:
    columns_of = catalog.columns_of()
    analysed: list[Analysed] = []
    for item in stats:
        skipped = item.skipped  # listed with the collector's reason, never parsed
        try:
            analysis = analyze(item.sample, columns_of) if skipped is None else None
            if analysis is not None and analysis.usages:
                analysed.append((item, analysis))
            elif analysis is not None:
                skipped = f"reads no table of {catalog.database}"
        except NotAnalysable as exc:
            skipped = str(exc)
        except Exception as exc:  # one odd entry must not stop the others
            skipped = f"cannot analyse: {type(exc).__name__}: {str(exc)[:120]}"
        summaries.append(
            QuerySummary(
                item.fingerprint,
                item.count,
                round(item.total_s, 6),
                round(item.mean_s, 6),
                round(item.max_s, 6),
                item.rows_examined,
                item.rows_sent,
                skipped,
            )
        )
    return analysed


def _latencies(
    session: Session,
    flavour: Flavour,
    analysed: Sequence[Analysed],
    config: DbOptConfig,
    only: set[str] | None = None,
) -> dict[str, float | None]:
    return measured.measure_all(
        session, flavour, analysed, config.measure_runs, config.measure_timeout_s, only
    )


def _bounds(session: Session, catalog: Catalog) -> partition.Bounds:
    def bounds(table: Table, column: str) -> tuple[dt.date, dt.date] | None:
        low, high = session.run(
            f"SELECT MIN({quote(column)}), MAX({quote(column)}) FROM {qualified(catalog, table.name)}"
        )[0]
        if low is None or high is None:
            return None
        return _as_date(low), _as_date(high)

    return bounds


def _as_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])
