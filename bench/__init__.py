"""Benchmarks run by `make bench` against the processes of `make run`."""

# The CSRF token the bench's fake browsers send as cookie and header.
CSRF = "b" * 32
