"""Paperboy's benchmarks and the local SMTP sink they (and the fault tests) send to."""
