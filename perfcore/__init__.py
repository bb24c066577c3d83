"""perfcore: the performance layer of an event-management platform.

Pure policies (cache TTLs and early refresh, job routing, scaling decisions)
shared by a SimPy simulation (``simulation``) and real adapters for Redis,
MariaDB/MySQL, Kubernetes and BullMQ.
"""

__version__ = "0.1.0"
