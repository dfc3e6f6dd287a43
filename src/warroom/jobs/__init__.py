"""Durable timers: every deadline and delivery is a row, written with its cause."""
