"""Message-broker destinations: kete next to the service's own client
(`python -m benchmarks.brokers`);
one module a plugin, each with ``lines(events) -> list[benchmarks.throughput.Line]``."""
