"""Test-suite plumbing: real services come from the ``perfcore.testing`` plugin."""

pytest_plugins = ["perfcore.testing"]
