"""What `metrics.connect` costs: its time, the ranking arrays' build, peak and resident memory.

    PYTHONPATH=<source tree> python bench/connect_cost.py /tmp/bench_wh

Run it with PYTHONPATH pointing at two source trees in turn (say main and a branch) to compare
what an index change costs on the same warehouse in the same session; the ranking build is
timed only where the tree has one (`metrics.serve.ranking`).
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
from typing import Any

import metrics
from metrics.serve import index


def main() -> None:
    timed: dict[str, float] = {}
    rankings = getattr(index, "rankings", None)
    if rankings is not None:
        build = rankings.build

        def timed_build(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            out = build(*args, **kwargs)
            timed["ranking_build_s"] = round(time.perf_counter() - t0, 3)
            return out

        rankings.build = timed_build
    t0 = time.perf_counter()
    metrics.connect(sys.argv[1])
    took = time.perf_counter() - t0
    gc.collect()
    with open("/proc/self/statm") as fh:
        resident = int(fh.read().split()[1]) * resource.getpagesize() / 2**20
    result = {
        "tree": metrics.__file__,
        "connect_s": round(took, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "resident_mb": round(resident),
        **timed,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
