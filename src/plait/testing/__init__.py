"""L6: helpers for testing plait and code built on it."""
