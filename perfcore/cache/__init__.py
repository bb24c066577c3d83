"""Two-tier cache: an in-process L1 in front of Redis or Redis Cluster (L2).

``perfcore.cache.policy`` holds the pure decisions (TTL choice, L1 expiry,
XFetch early refresh) that the simulation reuses.
"""
