"""What the event platform *is*, written once: its description and its reference schema.

:mod:`perfcore.platform.model` holds the endpoints, request classes, cache
namespaces, invalidations and job types (from the shipped ``platform.yaml``);
:mod:`perfcore.platform.schema` the tables. The reference service, the
simulation, the Locust users, the queue handlers and the data generators all
read these; none of them restates a fact.
"""

from perfcore.platform.model import PLATFORM, KeySpace, Platform, RequestClass

__all__ = ["PLATFORM", "KeySpace", "Platform", "RequestClass"]
