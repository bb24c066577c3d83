"""The advisor's result: the seed's four counters plus the evidence behind every suggestion.

One :class:`Report` renders both as a JSON object and as markdown.  The seed's
``slowQueriesFound``, ``indexesCreated``, ``queriesOptimized`` and
``partitioningSuggestions`` keep their names so existing dashboards read them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from perfcore.dbopt.partition import PartitionSuggestion


@dataclass
class ServedQuery:
    fingerprint: str
    cost_before: float
    cost_after: float
    latency_before_ms: float | None = None
    latency_after_ms: float | None = None


@dataclass
class IndexSuggestion:
    table: str
    columns: list[str]
    name: str
    ddl: str
    applied: bool
    benefit_s: float
    size_bytes: int
    queries: list[ServedQuery] = field(default_factory=list)


@dataclass
class QuerySummary:
    fingerprint: str
    count: int
    total_s: float
    mean_s: float
    max_s: float
    rows_examined: int
    rows_sent: int
    skipped: str | None = None  # why the advisor did not analyse it
    latency_before_ms: float | None = None  # median, before any candidate (--measure-latency)
    latency_after_ms: float | None = None  # median, with the chosen indexes


@dataclass
class Report:
    database: str
    server: str
    applied: bool
    min_savings_pct: float
    queries: list[QuerySummary] = field(default_factory=list)
    suggestions: list[IndexSuggestion] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    partitioning: list[PartitionSuggestion] = field(default_factory=list)
    statements_sent: int = 0
    warnings: list[str] = field(default_factory=list)
    schema_fingerprint: str = ""

    @property
    def queries_optimized(self) -> int:
        improved = {
            q.fingerprint
            for s in self.suggestions
            for q in s.queries
            if q.cost_before > 0
            and (1 - q.cost_after / q.cost_before) * 100 >= self.min_savings_pct
        }
        return len(improved)

    def to_json(self) -> dict[str, Any]:
        return {
            "slowQueriesFound": len(self.queries),
            "indexesCreated": sum(1 for s in self.suggestions if s.applied),
            "queriesOptimized": self.queries_optimized,
            "partitioningSuggestions": len(self.partitioning),
            "database": self.database,
            "server": self.server,
            "applied": self.applied,
            "min_savings_pct": self.min_savings_pct,
            "suggestions": [asdict(s) for s in self.suggestions],
            "rejected": self.rejected,
            "partitioning": [asdict(p) for p in self.partitioning],
            "queries": [asdict(q) for q in self.queries],
            "statements_sent": self.statements_sent,
            "warnings": self.warnings,
            "schema_fingerprint": self.schema_fingerprint,
        }

    def to_markdown(self) -> str:
        data = self.to_json()
        lines = [
            f"# Index advisor report: `{self.database}` ({self.server})",
            "",
            f"- slow query shapes found: {data['slowQueriesFound']}",
            f"- indexes created: {data['indexesCreated']}" + ("" if self.applied else " (dry run)"),
            f"- queries optimized (>= {self.min_savings_pct:g}% lower planner cost): {data['queriesOptimized']}",
            f"- partitioning suggestions: {data['partitioningSuggestions']}",
            *[f"- warning: {w}" for w in self.warnings],
            "",
            "## Index suggestions",
            "",
        ]
        if not self.suggestions:
            lines.append("No candidate index passed verification.")
        for s in self.suggestions:
            lines += [
                f"### `{s.name}` on `{s.table}` ({', '.join(s.columns)})",
                "",
                "```sql",
                s.ddl + ";",
                "```",
                "",
            ]
            lines.append(
                "| query | cost before | cost after | latency before ms | latency after ms |"
            )
            lines.append("|---|---:|---:|---:|---:|")
            for q in s.queries:
                lines.append(
                    f"| `{_short(q.fingerprint)}` | {q.cost_before:.1f} | {q.cost_after:.1f}"
                    f" | {_ms(q.latency_before_ms)} | {_ms(q.latency_after_ms)} |"
                )
            lines.append("")
        if self.rejected:
            lines += ["## Rejected candidates", ""]
            lines += [
                f"- `{r['table']}` ({', '.join(r['columns'])}): {r['reason']}"
                for r in self.rejected
            ]
            lines.append("")
        if self.partitioning:
            lines += ["## Partitioning", ""]
            for p in self.partitioning:
                lines.append(f"### `{p.table}` by `{p.column}` ({p.share:.0%} of its slow time)")
                lines += ["", "```sql", *[d + ";" for d in (*p.key_changes, *p.ddl)], "```", ""]
                lines += [f"- blocker: {b}" for b in p.blockers]
                lines.append("")
        skipped = [q for q in self.queries if q.skipped]
        lines += [
            "## Slow query shapes",
            "",
            "| count | total s | mean ms | measured ms before | after | query |",
            "|---:|---:|---:|---:|---:|---|",
        ]
        for shape in self.queries:
            note = f" (skipped: {shape.skipped})" if shape.skipped else ""
            lines.append(
                f"| {shape.count} | {shape.total_s:.3f} | {shape.mean_s * 1000:.1f}"
                f" | {_ms(shape.latency_before_ms)} | {_ms(shape.latency_after_ms)}"
                f" | `{_short(shape.fingerprint)}`{note} |"
            )
        if skipped:
            lines.append("")
        return "\n".join(lines) + "\n"


def _short(text: str, limit: int = 120) -> str:
    text = text.replace("|", "\\|").replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
