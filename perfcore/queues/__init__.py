"""BullMQ priority queues: routing policy, job handlers, workers and status.

``perfcore.queues.routing`` is pure and cheap to import (the simulation uses it);
the Redis-facing parts live in ``manager``, ``worker`` and ``status``.
"""
