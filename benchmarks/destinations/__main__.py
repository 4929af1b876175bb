"""`python -m benchmarks.destinations [--events N] [--only MODULE]`: see :mod:`benchmarks.throughput`."""

import benchmarks.destinations
from benchmarks.throughput import run_package

run_package(benchmarks.destinations, "Web and RPC destinations: kete next to the service's own client")
