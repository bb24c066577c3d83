"""``python -m perfcore`` runs the command line."""

from perfcore.cli import main

main()
