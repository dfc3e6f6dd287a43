"""On-call: schedules, rotations and overrides."""
