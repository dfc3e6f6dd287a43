"""The worker that runs due jobs, inside ``warroom serve`` or alone as ``warroom worker``."""
