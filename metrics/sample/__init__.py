"""Sample data: a deterministic landing-zone generator with a truth file, for the demo, the
tests and the benchmarks."""
