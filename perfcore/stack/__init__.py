"""Real local services on free loopback ports: the stack behind the tests and the demos.

One code path starts them for users (``perfcore stack up``) and for the test
suite (:mod:`perfcore.testing`):

* ``redis_cache``   - Redis for the cache, ``maxmemory-policy allkeys-lru``
* ``redis_queues``  - a second Redis for BullMQ, ``noeviction`` (BullMQ requires it)
* ``redis_cluster`` - three cluster primaries joined by ``redis-cli --cluster create``
* ``mariadb``       - ``mariadbd`` on a fresh data dir, slow log in ``mysql.slow_log``

Modules: ``process`` (the :class:`Server` base: start, wait, stop),
``redis_server``, ``mariadb_server``, ``containers`` (the Docker fallback),
``state`` (:class:`Stack` and its state file), ``cli``.

>>> stack = Stack(pathlib.Path("/tmp/demo-stack"))        # doctest: +SKIP
>>> urls = stack.up(["redis_cache"])               # doctest: +SKIP
>>> stack.down()                                   # doctest: +SKIP
"""

from perfcore.stack.mariadb_server import MariaDB, start_mariadb
from perfcore.stack.process import HOST, Server, free_port
from perfcore.stack.redis_server import RedisCluster, RedisServer, start_redis, start_redis_cluster
from perfcore.stack.state import SERVICES, ServiceState, Stack, default_run_dir

__all__ = [
    "HOST",
    "SERVICES",
    "MariaDB",
    "RedisCluster",
    "RedisServer",
    "Server",
    "ServiceState",
    "Stack",
    "default_run_dir",
    "free_port",
    "start_mariadb",
    "start_redis",
    "start_redis_cluster",
]
