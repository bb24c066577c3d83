"""Autoscaling: pure policies, metrics sources, actuators and the control loop.

Only :mod:`perfcore.scaling.policies` is imported by the simulation; the
adapters (Prometheus, psutil, BullMQ, Kubernetes, local processes) live in
their own modules and are imported on demand.
"""
