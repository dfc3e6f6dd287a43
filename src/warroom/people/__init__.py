"""The people directory: who can hold a role or be paged."""
