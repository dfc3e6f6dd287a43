"""warroom: incident and emergency response, with your runbook running."""

__version__ = "0.1.0"
