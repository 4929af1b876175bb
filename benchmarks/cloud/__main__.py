"""`python -m benchmarks.cloud [--events N] [--only MODULE]`: see :mod:`benchmarks.throughput`."""

import benchmarks.cloud
from benchmarks.throughput import run_package

run_package(benchmarks.cloud, "Cloud destinations: kete next to the service's own client")
