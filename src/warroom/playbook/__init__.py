"""The playbook: the organisation's runbook as validated data."""
