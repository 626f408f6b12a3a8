"""Run a command as the only child of this small process and record its wall time and peak RSS.

``python -S peak_rss.py RESULT.json CMD [ARG...]`` writes ``{"rc", "wall_s", "peak_rss_bytes"}`` to
RESULT.json and exits with the command's status. A child's ``ru_maxrss`` includes the RSS of the process
it was forked from (the memory it had before exec counts towards it), so forking the measured command
from the benchmark itself would add the benchmark's own RSS (gigabytes right after it built a model)
to every figure; this program, started without ``site`` and importing only the standard library, forks
from about 10 MiB instead. ``RUSAGE_CHILDREN`` of a process that waits for exactly one child is that
child's peak. Used by ``ecmiip.bench.export_memory`` and ``ecmiip.bench.export_faults``.
"""

import sys


def main(argv: list[str]) -> int:
    import json
    import resource
    import subprocess
    import time

    result, cmd = argv[0], argv[1:]
    t0 = time.perf_counter()
    rc = subprocess.call(cmd)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    with open(result, "w") as f:
        json.dump({"rc": rc, "wall_s": wall, "peak_rss_bytes": peak}, f)
    return rc


if __name__ == "__main__":
    del sys.path[0]  # this file's folder, bench/: its modules must not shadow the standard library
    sys.exit(main(sys.argv[1:]))
