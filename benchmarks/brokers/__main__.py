"""`python -m benchmarks.brokers [--events N] [--only MODULE]`: see :mod:`benchmarks.throughput`."""

import benchmarks.brokers
from benchmarks.throughput import run_package

run_package(benchmarks.brokers, "Message-broker destinations: kete next to the service's own client")
