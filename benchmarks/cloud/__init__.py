"""Cloud destinations: kete next to the service's own client
(`python -m benchmarks.cloud`);
one module a plugin, each with ``lines(events) -> list[benchmarks.throughput.Line]``."""
