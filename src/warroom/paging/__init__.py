"""Escalation policies and paging: who is paged for an incident, and when."""
