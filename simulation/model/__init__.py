"""The platform's tiers (API slots and CPUs, two-tier cache, database pool, job queues,
deployment and autoscaler) wired to one SimPy clock in :mod:`simulation.model.platform`."""
