"""``python -m icformat`` runs the CLI."""
from .cli import run

run()
