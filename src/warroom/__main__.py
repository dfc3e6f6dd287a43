"""``python -m warroom`` runs the CLI."""

from warroom.cli import main

main()
