"""Benchmarks and the real small models they (and the tests) run on."""
