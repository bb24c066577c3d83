"""Index advisor for MySQL 8 and MariaDB 10.6+: from the slow log to verified, safely applied indexes.

Read top-down: :mod:`~perfcore.dbopt.collect` → :mod:`~perfcore.dbopt.fingerprint` →
:mod:`~perfcore.dbopt.analyze` → :mod:`~perfcore.dbopt.candidates` →
:mod:`~perfcore.dbopt.verify` → :mod:`~perfcore.dbopt.apply` →
:mod:`~perfcore.dbopt.partition` → :mod:`~perfcore.dbopt.report`, wired together by
:mod:`~perfcore.dbopt.advisor`.  :mod:`~perfcore.dbopt.refschema`,
:mod:`~perfcore.dbopt.datagen` and :mod:`~perfcore.dbopt.workload` provide a
reference event-platform database to try it on.
"""
