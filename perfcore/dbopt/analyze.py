"""Query analysis: which columns of which table a statement filters, joins, groups and sorts by.

sqlglot parses the statement (MySQL dialect: backquotes, ``LIMIT a,b``, ``<=>``);
aliases are resolved per SELECT scope and unqualified columns against the
catalog's column lists.  For each table occurrence the result lists

- ``equality``: ``col = constant``, ``col IN (...)``, ``col IS NULL``;
- ``ranges``: ``<``, ``>``, ``BETWEEN``, ``LIKE 'prefix%'``;
- ``joins``: ``col = other_table.col`` (an equality once the other side is read);
- ``group_by`` and ``order_by`` when they name columns of that table only.

UPDATE and DELETE are analysed for their WHERE clause and turned into an
equivalent ``SELECT 1`` for EXPLAIN; they are never executed.  The statement
EXPLAIN sees is regenerated from the syntax tree (one statement, comments
dropped), never the logged text.  Pure: no database access.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, traverse_scope

Kind = Literal["select", "update", "delete"]

# Built-in functions that read nothing and write nothing, by name (as written in
# SQL) and by sqlglot's expression key for the ones it parses into classes.  A
# statement calling anything else -- SLEEP, BENCHMARK, GET_LOCK, a stored
# function, qualified or not -- is refused before any EXPLAIN: EXPLAIN may
# evaluate constant expressions, so a stored function would run.
SAFE_FUNCTIONS = frozenset(
    {"now", "curdate", "curtime", "current_date", "current_time", "current_timestamp", "utc_timestamp",
     "utc_date", "sysdate", "date", "lower", "upper", "concat", "concat_ws", "coalesce", "ifnull",
     "if", "length", "char_length", "substring", "substr", "left", "right", "trim", "round",
     "floor", "ceil", "ceiling", "abs", "greatest", "least", "date_add", "date_sub", "datediff",
     "date_format", "from_unixtime", "unix_timestamp", "timestampdiff", "to_days", "year",
     "month", "day", "dayofmonth", "hour", "minute", "second", "week", "weekday", "dayofweek",
     "last_day", "str_to_date", "cast", "convert", "count", "sum", "avg", "min", "max",
     "group_concat", "nullif", "mod", "truncate", "lcase", "ucase", "ltrim", "rtrim", "locate",
     "instr", "lpad", "rpad", "replace", "reverse", "field", "elt", "sign", "pow", "power",
     "sqrt", "ln", "log", "exp", "hex", "yearweek", "quarter", "dayname", "monthname",
     "makedate", "time", "timestamp", "row_number", "rank", "dense_rank", "ntile", "lag", "lead",
     "first_value", "last_value", "stddev", "std", "variance", "substring_index", "extract",
     "interval", "isnull", "octet_length", "bit_length", "ascii", "ord", "char", "space", "repeat",
     "format", "dayofyear"}
)  # fmt: skip
SAFE_KEYS = frozenset(
    {"and", "or", "xor", "not", "exists", "case", "if", "cast", "trycast", "extract", "avg",
     "collate", "introducer", "convert", "charset",
     "count", "sum", "min", "max", "abs", "ceil", "floor", "round", "coalesce", "concat",
     "concatws", "greatest", "least", "lower", "upper", "length", "left", "right", "trim",
     "substring", "substringindex", "replace", "pad", "strposition", "dateadd", "datesub",
     "datediff", "timestampdiff", "timestampadd", "datetrunc", "date", "time", "year", "month",
     "day", "week", "quarter", "dayofweek", "dayofmonth", "dayofyear", "dayname", "monthname",
     "lastday", "currentdate", "currenttime", "currenttimestamp", "strtodate", "timetostr",
     "tsordstodate", "tsordstotimestamp", "unixtotime", "timetounix", "strtotime",
     "groupconcat", "nullif", "sign", "pow", "sqrt", "ln", "log", "exp", "hex", "mod",
     "rownumber", "rank", "denserank", "ntile", "lag", "lead", "firstvalue", "lastvalue",
     "stddev", "stddevpop", "stddevsamp", "variance", "variancepop", "regexplike", "anyvalue",
     "countif", "nvl2", "unhex", "chr", "ascii", "repeat", "reverse", "initcap",
     "truncate", "trunc", "todays", "fromunixtime", "unixtimestamp", "weekofyear", "hour",
     "minute", "second", "yearweek", "currentdatetime", "utctimestamp", "utcdate", "sysdate"}
)  # fmt: skip
# Parsing and walking recurse once per nesting level: deeper statements are
# refused up front, so no RecursionError can escape.
MAX_NESTING = 100
_PAREN_OR_LITERAL = re.compile(
    r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"|`(?:[^`]|``)*`|/\*.*?\*/|[()]", re.DOTALL
)


class NotAnalysable(ValueError):
    """The statement is not one the advisor plans (parse error, DDL, side effects, ...)."""


@dataclass
class TableUsage:
    """How one occurrence of a table is used by a statement."""

    table: str
    equality: list[str] = field(default_factory=list)
    ranges: list[str] = field(default_factory=list)
    joins: list[str] = field(default_factory=list)
    group_by: list[str] = field(default_factory=list)
    order_by: list[str] = field(default_factory=list)
    where: list[str] = field(
        default_factory=list
    )  # every filtered column, in order (naive baseline)

    def add(self, bucket: list[str], column: str) -> None:
        if column not in bucket:
            bucket.append(column)


@dataclass(frozen=True)
class Analysis:
    kind: Kind
    usages: tuple[TableUsage, ...]
    explain_sql: str  # a single SELECT regenerated from the syntax tree


def analyze(sql: str, columns_of: Mapping[str, Sequence[str]]) -> Analysis:
    """Analyse one statement against ``columns_of`` (table → its column names)."""
    try:
        return _analyze(sql, columns_of)
    except RecursionError:
        # Long flat chains (a AND b AND ... ten thousand times) nest in the tree, not in text.
        raise NotAnalysable("nested too deeply to analyse") from None


def _analyze(sql: str, columns_of: Mapping[str, Sequence[str]]) -> Analysis:
    tree = parse_single(sql)
    lookup = _Lookup(columns_of)
    if isinstance(tree, exp.Update | exp.Delete):
        kind: Kind = "update" if isinstance(tree, exp.Update) else "delete"
        select: exp.Select | exp.SetOperation = _as_select(tree)
    elif isinstance(tree, exp.Select | exp.SetOperation):
        kind, select = "select", tree
    else:
        raise NotAnalysable(f"not a SELECT, UPDATE or DELETE: {type(tree).__name__}")
    _check_read_only(select)
    usages: list[TableUsage] = []
    for scope in traverse_scope(select):
        usages.extend(_scope_usages(scope, lookup))
    return Analysis(kind, tuple(usages), select.sql(dialect="mysql", comments=False))


def parse_single(sql: str) -> exp.Expr:
    """Exactly one parsed statement, or :class:`NotAnalysable`."""
    depth = nesting(sql)
    if depth > MAX_NESTING:
        raise NotAnalysable(f"nested {depth} levels deep (more than {MAX_NESTING})")
    try:
        statements = [s for s in sqlglot.parse(sql, read="mysql") if s is not None]
    except SqlglotError as exc:
        raise NotAnalysable(f"parse error: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise NotAnalysable("nested too deeply to parse") from None
    if len(statements) != 1:
        raise NotAnalysable(f"expected one statement, found {len(statements)}")
    return statements[0]


def _as_select(tree: exp.Update | exp.Delete) -> exp.Select:
    """``SELECT 1 FROM <table [JOIN ...]> WHERE ...`` with the write's WHERE, ORDER BY and LIMIT."""
    target = tree.this
    extra = ("from_", "using", "tables", "joins")
    if not isinstance(target, exp.Table) or any(tree.args.get(key) for key in extra):
        raise NotAnalysable("only UPDATE/DELETE of one table (optionally joined) are analysed")
    select = exp.select("1").from_(target.copy())
    for key in ("where", "order", "limit"):
        part = tree.args.get(key)
        if part is not None:
            select.set(key, part.copy())
    return select


def _check_read_only(tree: exp.Expr) -> None:
    for node in tree.walk():
        if isinstance(
            node, exp.Lock | exp.Into | exp.Command | exp.Insert | exp.Update | exp.Delete
        ):
            raise NotAnalysable(f"not read-only: {type(node).__name__}")
        refused = refused_call(node)
        if refused is not None:
            raise NotAnalysable(f"calls function {refused} (not a built-in on the allow-list)")
        if isinstance(node, exp.Parameter | exp.Placeholder):
            raise NotAnalysable("has placeholders (a digest text, not a statement)")


def refused_call(node: exp.Expr) -> str | None:
    """The name of the function ``node`` calls when it is not a safe built-in, else None."""
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Func):
        # db.f(...) names a stored function; built-ins are never schema-qualified.
        return f"{node.this.sql(dialect='mysql')}.{node.expression.name or node.expression.key}"
    if isinstance(node, exp.Anonymous):
        return None if str(node.name).lower() in SAFE_FUNCTIONS else str(node.name)
    if isinstance(node, exp.Func) and node.key not in SAFE_KEYS:
        return node.sql_name().lower()
    return None


def nesting(sql: str) -> int:
    """The deepest parenthesis nesting of ``sql`` outside string literals and comments."""
    depth = deepest = 0
    for token in _PAREN_OR_LITERAL.finditer(sql):
        text = token.group()
        if text == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif text == ")":
            depth = max(0, depth - 1)
    return deepest


class _Lookup:
    """Case-insensitive table and column lookup in the catalog's column lists."""

    def __init__(self, columns_of: Mapping[str, Sequence[str]]) -> None:
        self.tables = {name.lower(): name for name in columns_of}
        self.columns = {
            name.lower(): {c.lower(): c for c in cols} for name, cols in columns_of.items()
        }

    def table(self, node: exp.Table) -> str | None:
        return self.tables.get(node.name.lower())

    def column(self, table: str, column: str) -> str | None:
        return self.columns.get(table.lower(), {}).get(column.lower())


def _scope_usages(scope: Scope, lookup: _Lookup) -> list[TableUsage]:
    aliases: dict[str, TableUsage] = {}
    for alias, source in scope.sources.items():
        if isinstance(source, exp.Table):
            table = lookup.table(source)
            if table is not None:
                aliases[alias] = TableUsage(table)
    if not aliases:
        return []
    resolve = _Resolver(scope, aliases, lookup)
    select = scope.expression
    if not isinstance(select, exp.Select):
        return list(aliases.values())
    conditions: list[exp.Expr] = []
    where = select.args.get("where")
    if where is not None:
        conditions.extend(_conjuncts(where.this))
    for join in select.args.get("joins") or []:
        on = join.args.get("on")
        if on is not None:
            conditions.extend(_conjuncts(on))
    for condition in conditions:
        _classify(condition, resolve)
    group = select.args.get("group")
    if group is not None:
        _assign_list(group.expressions, resolve, "group_by")
    order = select.args.get("order")
    if order is not None:
        ordered = order.expressions
        if len({bool(o.args.get("desc")) for o in ordered}) == 1:
            _assign_list([o.this for o in ordered], resolve, "order_by")
    return list(aliases.values())


class _Resolver:
    def __init__(self, scope: Scope, aliases: dict[str, TableUsage], lookup: _Lookup) -> None:
        self.scope, self.aliases, self.lookup = scope, aliases, lookup

    def __call__(self, node: exp.Expr) -> tuple[TableUsage, str] | None:
        """The table occurrence and catalog column a column reference names, if local."""
        if not isinstance(node, exp.Column) or not node.name:
            return None
        if node.table:
            usage = self.aliases.get(node.table)
            if usage is None:
                return None
            column = self.lookup.column(usage.table, node.name)
            return (usage, column) if column else None
        owners = [
            (usage, column)
            for usage in self.aliases.values()
            if (column := self.lookup.column(usage.table, node.name))
        ]
        return owners[0] if len(owners) == 1 else None

    def is_constant(self, node: exp.Expr) -> bool:
        """No column of this scope inside: a literal, a function of literals, an outer column."""
        if isinstance(node, exp.Subquery | exp.Select):
            return False
        return all(self(column) is None for column in node.find_all(exp.Column))


def _conjuncts(node: exp.Expr) -> Iterable[exp.Expr]:
    node = node.unnest() if isinstance(node, exp.Paren) else node
    if isinstance(node, exp.And):
        yield from _conjuncts(node.left)
        yield from _conjuncts(node.right)
    else:
        yield node


def _classify(node: exp.Expr, resolve: _Resolver) -> None:
    if isinstance(node, exp.EQ | exp.NullSafeEQ):
        left, right = resolve(node.left), resolve(node.right)
        if left and right and left[0] is not right[0]:
            for usage, column in (left, right):
                usage.add(usage.joins, column)
                usage.add(usage.where, column)
        elif left and resolve.is_constant(node.right):
            _mark(left, "equality")
        elif right and resolve.is_constant(node.left):
            _mark(right, "equality")
    elif isinstance(node, exp.In):
        target = resolve(node.this)
        values = node.expressions
        if target and (node.args.get("query") or all(resolve.is_constant(v) for v in values)):
            _mark(target, "equality")
    elif isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
        target = resolve(node.this)
        if target:
            _mark(target, "equality")
    elif isinstance(node, exp.GT | exp.GTE | exp.LT | exp.LTE):
        left, right = resolve(node.left), resolve(node.right)
        if left and resolve.is_constant(node.right):
            _mark(left, "ranges")
        elif right and resolve.is_constant(node.left):
            _mark(right, "ranges")
    elif isinstance(node, exp.Between):
        target = resolve(node.this)
        if (
            target
            and resolve.is_constant(node.args["low"])
            and resolve.is_constant(node.args["high"])
        ):
            _mark(target, "ranges")
    elif isinstance(node, exp.Like):
        target, pattern = resolve(node.this), node.expression
        if (
            target
            and isinstance(pattern, exp.Literal)
            and not str(pattern.this).startswith(("%", "_"))
        ):
            _mark(target, "ranges")


def _mark(found: tuple[TableUsage, str], bucket: str) -> None:
    usage, column = found
    usage.add(getattr(usage, bucket), column)
    usage.add(usage.where, column)


def _assign_list(nodes: Sequence[exp.Expr], resolve: _Resolver, bucket: str) -> None:
    """Record GROUP BY / ORDER BY columns when they all belong to one table occurrence."""
    found = [resolve(node) for node in nodes]
    if not found or any(f is None for f in found):
        return
    owners = {id(f[0]) for f in found if f}
    if len(owners) != 1:
        return
    for usage, column in (f for f in found if f):
        usage.add(getattr(usage, bucket), column)
