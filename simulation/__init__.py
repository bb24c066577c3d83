"""The SimPy model of the event platform: scenario -> workload -> model -> metrics -> report.

Entry points: :func:`simulation.scenario.load_scenario`, :func:`simulation.run.simulate`
and the ``perfcore simulate`` command (:mod:`simulation.cli`).
"""
