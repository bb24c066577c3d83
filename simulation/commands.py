"""The simulation's ``perfcore`` subcommands, registered as ``perfcore.commands`` entry points.

Only references and one-line help live here, so listing commands imports
neither SimPy nor Optuna.
"""

from __future__ import annotations

from perfcore.commands import CommandRef

simulate = CommandRef(
    "simulation.cli:simulate", "Run the SimPy model of the platform (no servers needed)."
)
tune = CommandRef("simulation.cli_tune:tune", "Choose config values with the simulation (Optuna).")
calibrate = CommandRef(
    "simulation.cli_calibrate:calibrate", "Fit the model's costs from a measured load-test run."
)
validate = CommandRef(
    "simulation.cli_validate:validate",
    "Replay a measured run in the model: predicted vs measured per endpoint.",
)
loadtest = CommandRef(
    "simulation.cli_loadtest:loadtest",
    "Load-test with Locust: a scenario's load, loopback or allow-listed staging, bounded.",
)
plan = CommandRef(
    "simulation.cli_plan:plan",
    "Capacity plan: fewest replicas and workers for a day's size and SLO.",
)
sweep = CommandRef(
    "simulation.cli_sweep:sweep", "Simulate a grid of config values x seeds: one CSV and plot."
)
