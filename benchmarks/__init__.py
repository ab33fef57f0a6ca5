"""`edgedigits bench`: every exported artifact side by side, measured through the runtime package.

Example:

>>> from edgedigits.bench import BenchConfig, bench            # doctest: +SKIP
>>> report = bench(BenchConfig(targets=["runs/edge"]))          # doctest: +SKIP
>>> print(report.to_table())                                    # doctest: +SKIP

Modules: :mod:`~edgedigits.bench.config` (options), :mod:`~edgedigits.bench.targets`
(which files), :mod:`~edgedigits.bench.measure` and :mod:`~edgedigits.bench.memory`
(measurements), :mod:`~edgedigits.bench.stats` (percentiles, spread),
:mod:`~edgedigits.bench.report` (the results type) and :mod:`~edgedigits.bench.plot`.
"""

from edgedigits.bench.api import bench
from edgedigits.bench.config import BenchConfig
from edgedigits.bench.report import BenchReport, BenchRow

__all__ = ["bench", "BenchConfig", "BenchReport", "BenchRow"]
