"""Incidents: lifecycle, phases with clocks, tasks, roles, notes and the timeline."""
