"""Test-suite plumbing: real services come from the ``perfcore.testing`` plugin.

Hypothesis: no per-example deadline (a loaded 2-core CI machine makes timing
noise, not bugs), and under CI the examples are derived from the test itself
so that a red run can be reproduced exactly.
"""

import os

from hypothesis import settings

pytest_plugins = ["perfcore.testing"]

settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI", "").lower() in {"1", "true", "yes"} else "dev")

# One token key for every service, Locust run and /metrics capture the tests
# start: child processes inherit it (perfcore.service.auth.find_secret).
TEST_AUTH_SECRET = "test-only-secret"
os.environ["PERFCORE_AUTH_SECRET"] = TEST_AUTH_SECRET
