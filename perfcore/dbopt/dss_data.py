"""A decision-support reference database (TPC-H-like): eight tables, seeded, loaded in seconds.

region, nation, supplier, customer, part, partsupp, orders and lineitem, with
TPC-H's column names and key structure (``lineitem`` keyed by
``(l_orderkey, l_linenumber)``, ``partsupp`` by ``(ps_partkey, ps_suppkey)``)
and only primary keys, so an index advisor has work to do.  Sizes follow
TPC-H's ratios from one number, the ``lineitem`` row count.  Values are
drawn with numpy from a fixed seed and loaded with ``LOAD DATA LOCAL
INFILE``; dates span 1992-01-01 to 1998-12-31, as in TPC-H.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from perfcore.dbopt.datagen import Columns, write_tsv

TABLES: dict[str, str] = {
    "region": "r_regionkey INT NOT NULL PRIMARY KEY, r_name CHAR(25) NOT NULL",
    "nation": "n_nationkey INT NOT NULL PRIMARY KEY, n_name CHAR(25) NOT NULL,"
              " n_regionkey INT NOT NULL",
    "supplier": "s_suppkey INT NOT NULL PRIMARY KEY, s_name CHAR(25) NOT NULL,"
                " s_nationkey INT NOT NULL, s_phone CHAR(15) NOT NULL,"
                " s_acctbal DECIMAL(15,2) NOT NULL",
    "customer": "c_custkey INT NOT NULL PRIMARY KEY, c_name VARCHAR(25) NOT NULL,"
                " c_nationkey INT NOT NULL, c_phone CHAR(15) NOT NULL,"
                " c_acctbal DECIMAL(15,2) NOT NULL, c_mktsegment CHAR(10) NOT NULL",
    "part": "p_partkey INT NOT NULL PRIMARY KEY, p_name VARCHAR(55) NOT NULL,"
            " p_brand CHAR(10) NOT NULL, p_type VARCHAR(25) NOT NULL, p_size INT NOT NULL,"
            " p_container CHAR(10) NOT NULL, p_retailprice DECIMAL(15,2) NOT NULL",
    "partsupp": "ps_partkey INT NOT NULL, ps_suppkey INT NOT NULL, ps_availqty INT NOT NULL,"
                " ps_supplycost DECIMAL(15,2) NOT NULL, PRIMARY KEY (ps_partkey, ps_suppkey)",
    "orders": "o_orderkey INT NOT NULL PRIMARY KEY, o_custkey INT NOT NULL,"
              " o_orderstatus CHAR(1) NOT NULL, o_totalprice DECIMAL(15,2) NOT NULL,"
              " o_orderdate DATE NOT NULL, o_orderpriority CHAR(15) NOT NULL,"
              " o_clerk CHAR(15) NOT NULL",
    "lineitem": "l_orderkey INT NOT NULL, l_linenumber INT NOT NULL, l_partkey INT NOT NULL,"
                " l_suppkey INT NOT NULL, l_quantity DECIMAL(15,2) NOT NULL,"
                " l_extendedprice DECIMAL(15,2) NOT NULL, l_discount DECIMAL(15,2) NOT NULL,"
                " l_tax DECIMAL(15,2) NOT NULL, l_returnflag CHAR(1) NOT NULL,"
                " l_linestatus CHAR(1) NOT NULL, l_shipdate DATE NOT NULL,"
                " l_commitdate DATE NOT NULL, l_receiptdate DATE NOT NULL,"
                " l_shipinstruct CHAR(25) NOT NULL, l_shipmode CHAR(10) NOT NULL,"
                " PRIMARY KEY (l_orderkey, l_linenumber)",
}  # fmt: skip

REGIONS = ("AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST")
NATIONS = ("ALGERIA", "ARGENTINA", "BRAZIL", "CANADA", "EGYPT", "ETHIOPIA", "FRANCE", "GERMANY",
           "INDIA", "INDONESIA", "IRAN", "IRAQ", "JAPAN", "JORDAN", "KENYA", "MOROCCO",
           "MOZAMBIQUE", "PERU", "CHINA", "ROMANIA", "SAUDI ARABIA", "VIETNAM", "RUSSIA",
           "UNITED KINGDOM", "UNITED STATES")  # fmt: skip
NATION_REGION = (0, 1, 1, 1, 4, 0, 3, 3, 2, 2, 4, 4, 2, 4, 0, 0, 0, 1, 2, 3, 4, 2, 3, 3, 1)
SEGMENTS = ("AUTOMOBILE", "BUILDING", "FURNITURE", "HOUSEHOLD", "MACHINERY")
PRIORITIES = ("1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW")
SHIPMODES = ("AIR", "FOB", "MAIL", "RAIL", "REG AIR", "SHIP", "TRUCK")
INSTRUCTIONS = ("COLLECT COD", "DELIVER IN PERSON", "NONE", "TAKE BACK RETURN")
COLOURS = ("almond", "azure", "blush", "chiffon", "coral", "cyan", "forest", "ghost", "green",
           "khaki", "lace", "linen", "navy", "olive", "peach", "plum", "rose", "salmon", "tan",
           "wheat")  # fmt: skip
TYPES = tuple(f"{a} {b} {c}" for a in ("ECONOMY", "LARGE", "MEDIUM", "PROMO", "SMALL", "STANDARD")
              for b in ("ANODIZED", "BRUSHED", "BURNISHED", "PLATED", "POLISHED")
              for c in ("BRASS", "COPPER", "NICKEL", "STEEL", "TIN"))  # fmt: skip
CONTAINERS = tuple(f"{a} {b}" for a in ("JUMBO", "LG", "MED", "SM", "WRAP")
                   for b in ("BAG", "BOX", "CASE", "CAN", "DRUM", "JAR", "PACK", "PKG"))  # fmt: skip
FIRST_DAY = np.datetime64("1992-01-01")
DAYS = int((np.datetime64("1998-08-02") - FIRST_DAY).astype(int))


@dataclass(frozen=True)
class DssScale:
    """Row counts from the ``lineitem`` count (TPC-H: 6 M line items per scale factor)."""

    lineitem: int = 1_000_000

    def __post_init__(self) -> None:
        if self.lineitem < 1000:
            raise ValueError("lineitem: at least 1000 rows")

    @property
    def counts(self) -> dict[str, int]:
        factor = self.lineitem / 6_000_000
        return {
            "region": 5, "nation": 25,
            "supplier": max(20, int(10_000 * factor)), "customer": max(100, int(150_000 * factor)),
            "part": max(100, int(200_000 * factor)), "partsupp": 4 * max(100, int(200_000 * factor)),
            "orders": max(250, self.lineitem // 4), "lineitem": self.lineitem,
        }  # fmt: skip


def _pick(rng: np.random.Generator, values: tuple[str, ...], n: int) -> np.ndarray:
    return np.asarray(values)[rng.integers(0, len(values), n)]


def _money(rng: np.random.Generator, low: float, high: float, n: int) -> np.ndarray:
    return np.char.mod("%.2f", rng.uniform(low, high, n))


def _dates(days: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(FIRST_DAY + days.astype("timedelta64[D]"), unit="D")


def _keyed(prefix: str, keys: np.ndarray, width: int = 9) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(keys.astype(str), width))


def _phone(rng: np.random.Generator, nation: np.ndarray) -> np.ndarray:
    """TPC-H phone numbers start with the nation key + 10 (Q22 filters on that prefix)."""
    local = rng.integers(100, 999, len(nation)).astype(str)
    return np.char.add(np.char.add((nation + 10).astype(str), "-"), local)


def generate(counts: dict[str, int], rng: np.random.Generator) -> dict[str, Columns]:
    """Every table's columns, consistent with each other (foreign keys resolve)."""
    n = counts
    ids = {t: np.arange(1, n[t] + 1) for t in n}
    s_nation, c_nation = rng.integers(0, 25, n["supplier"]), rng.integers(0, 25, n["customer"])
    words = np.char.add(
        np.char.add(_pick(rng, COLOURS, n["part"]), " "), _pick(rng, COLOURS, n["part"])
    )
    order_days = rng.integers(0, DAYS - 151, n["orders"])
    per_order = np.minimum(rng.integers(1, 8, n["orders"]), 7)
    # Exactly n["lineitem"] lines: spread them over orders, at most seven each.
    per_order = np.maximum(1, np.round(per_order * n["lineitem"] / per_order.sum())).astype(int)
    owner = np.repeat(ids["orders"], per_order)[: n["lineitem"]]
    if len(owner) < n["lineitem"]:
        owner = np.concatenate([owner, np.full(n["lineitem"] - len(owner), n["orders"])])
    starts = np.concatenate([[0], np.flatnonzero(np.diff(owner)) + 1])
    line = (
        np.arange(n["lineitem"]) - np.repeat(starts, np.diff(np.append(starts, n["lineitem"]))) + 1
    )
    ship = order_days[owner - 1] + rng.integers(1, 122, n["lineitem"])
    receipt = ship + rng.integers(1, 31, n["lineitem"])
    shipped = ship < DAYS - 1000
    partkey = rng.integers(1, n["part"] + 1, n["lineitem"])
    quantity = rng.integers(1, 51, n["lineitem"])
    return {
        "region": {"r_regionkey": np.arange(5), "r_name": np.asarray(REGIONS)},
        "nation": {"n_nationkey": np.arange(25), "n_name": np.asarray(NATIONS),
                   "n_regionkey": np.asarray(NATION_REGION)},
        "supplier": {"s_suppkey": ids["supplier"], "s_name": _keyed("Supplier#", ids["supplier"]),
                     "s_nationkey": s_nation, "s_phone": _phone(rng, s_nation),
                     "s_acctbal": _money(rng, -999.99, 9999.99, n["supplier"])},
        "customer": {"c_custkey": ids["customer"], "c_name": _keyed("Customer#", ids["customer"]),
                     "c_nationkey": c_nation, "c_phone": _phone(rng, c_nation),
                     "c_acctbal": _money(rng, -999.99, 9999.99, n["customer"]),
                     "c_mktsegment": _pick(rng, SEGMENTS, n["customer"])},
        "part": {"p_partkey": ids["part"], "p_name": np.char.add(np.char.add(words, " "), ids["part"].astype(str)),
                 "p_brand": np.char.add("Brand#", rng.integers(11, 56, n["part"]).astype(str)),
                 "p_type": _pick(rng, TYPES, n["part"]), "p_size": rng.integers(1, 51, n["part"]),
                 "p_container": _pick(rng, CONTAINERS, n["part"]),
                 "p_retailprice": _money(rng, 900, 2100, n["part"])},
        "partsupp": {"ps_partkey": np.repeat(ids["part"], 4),
                     "ps_suppkey": (np.repeat(ids["part"], 4) + np.tile(np.arange(4), n["part"])
                                    * (n["supplier"] // 4 + 1)) % n["supplier"] + 1,
                     "ps_availqty": rng.integers(1, 10_000, n["partsupp"]),
                     "ps_supplycost": _money(rng, 1, 1000, n["partsupp"])},
        "orders": {"o_orderkey": ids["orders"], "o_custkey": rng.integers(1, n["customer"] + 1, n["orders"]),
                   "o_orderstatus": np.where(order_days < DAYS - 1200, "F", np.where(order_days < DAYS - 900, "P", "O")),
                   "o_totalprice": _money(rng, 800, 500_000, n["orders"]), "o_orderdate": _dates(order_days),
                   "o_orderpriority": _pick(rng, PRIORITIES, n["orders"]),
                   "o_clerk": _keyed("Clerk#", rng.integers(1, max(2, n["orders"] // 1500), n["orders"]))},
        "lineitem": {"l_orderkey": owner, "l_linenumber": line, "l_partkey": partkey,
                     "l_suppkey": (partkey + rng.integers(0, 4, n["lineitem"]) * (n["supplier"] // 4 + 1))
                     % n["supplier"] + 1,
                     "l_quantity": quantity, "l_extendedprice": np.char.mod("%.2f", quantity * rng.uniform(900, 2100, n["lineitem"])),
                     "l_discount": np.char.mod("%.2f", rng.integers(0, 11, n["lineitem"]) / 100),
                     "l_tax": np.char.mod("%.2f", rng.integers(0, 9, n["lineitem"]) / 100),
                     "l_returnflag": np.where(shipped, _pick(rng, ("R", "A"), n["lineitem"]), "N"),
                     "l_linestatus": np.where(shipped, "F", "O"), "l_shipdate": _dates(ship),
                     "l_commitdate": _dates(order_days[owner - 1] + rng.integers(30, 92, n["lineitem"])),
                     "l_receiptdate": _dates(receipt), "l_shipinstruct": _pick(rng, INSTRUCTIONS, n["lineitem"]),
                     "l_shipmode": _pick(rng, SHIPMODES, n["lineitem"])},
    }  # fmt: skip


def seed(
    dsn: str, scale: DssScale, *, seed: int = 5, progress: Callable[[str], None] = lambda _: None
) -> dict[str, int]:
    """(Re)create the eight tables in ``dsn``'s database and load them; returns row counts."""
    engine = sa.create_engine(
        dsn, isolation_level="AUTOCOMMIT", connect_args={"local_infile": True}
    )
    counts = scale.counts
    tables = generate(counts, np.random.default_rng(seed))
    try:
        with engine.connect() as connection, tempfile.TemporaryDirectory() as tmp:
            for name, body in TABLES.items():
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS `{name}`")
                connection.exec_driver_sql(
                    f"CREATE TABLE `{name}` ({body}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
                )
                path = Path(tmp) / f"{name}.tsv"
                write_tsv(tables[name], path)
                fields = ", ".join(f"`{c}`" for c in tables[name])
                connection.exec_driver_sql(
                    f"LOAD DATA LOCAL INFILE '{path.as_posix()}' INTO TABLE `{name}`"
                    f" CHARACTER SET utf8mb4 ({fields})"
                )
                progress(f"{name}: {counts[name]} rows")
            connection.exec_driver_sql("ANALYZE TABLE " + ", ".join(f"`{t}`" for t in TABLES))
    finally:
        engine.dispose()
    return counts
