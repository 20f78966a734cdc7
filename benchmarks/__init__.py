"""plait's benchmarks: ``python -m benchmarks`` runs every workload and prints a table.

See ``benchmarks/README.md`` and ``/work/shared/BENCHMARKS.md``. This package imports
nothing at import time, so a workload process starts clean.
"""
