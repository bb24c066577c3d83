"""The least privileges the advisor needs, and a warning when it runs with more.

A dry run reads the catalog, the slow log and plans statements::

    GRANT SELECT ON platform.* TO 'advisor'@'localhost';          -- EXPLAIN needs SELECT
    GRANT SELECT ON mysql.slow_log TO 'advisor'@'localhost';
    GRANT SELECT ON performance_schema.* TO 'advisor'@'localhost'; -- digests (MySQL 8)

and builds its candidates to plan with them, then drops them again, and
refreshes statistics::

    GRANT INDEX, ALTER, INSERT ON platform.* TO 'advisor'@'localhost';

(``INDEX`` for CREATE/DROP INDEX, ``ALTER`` for ``ALTER INDEX ... IGNORED``
and ``VISIBLE``, ``SELECT`` + ``INSERT`` for ``ANALYZE TABLE``).  Nothing
else: no ``EXECUTE`` (so no stored routine can run even if one slipped
through), no ``SUPER``, no global grants.
"""

from __future__ import annotations

import re

import sqlalchemy.exc

from perfcore.dbopt.session import Session

_BROAD = re.compile(r"GRANT (?:ALL PRIVILEGES|.*\bSUPER\b).* ON \*\.\*", re.IGNORECASE)


def broad_grants(grants: list[str]) -> list[str]:
    """Pure: the grant lines that give global superuser-like rights."""
    return [g for g in grants if _BROAD.search(g)]


def warnings(session: Session) -> list[str]:
    """One line per problem with the advisor's account (empty when it is least-privileged)."""
    user = str(session.scalar("SELECT CURRENT_USER()"))
    try:
        grants = [str(row[0]) for row in session.run("SHOW GRANTS")]
    except sqlalchemy.exc.DBAPIError:
        return []
    if broad_grants(grants):
        return [
            f"connected as {user}, which holds global superuser privileges: run the advisor"
            " as a user with only the grants in docs/dbopt.md (Privileges)"
        ]
    return []
