"""Rule corpus figures: corpus load time and `rules_for` latency over every current subheading.

Run: .venv/bin/python benchmarks/bench_rules.py   (needs a store with the hs and rules steps)
"""

from __future__ import annotations

import statistics
import time

from usmca.nomenclature.correlate import nomenclature
from usmca.rules import corpus as corpus_mod
from usmca.store import store


def main() -> None:
    conn = store()
    t = time.perf_counter()
    corpus = corpus_mod.load_corpus(conn)
    load_s = time.perf_counter() - t
    codes = [c for c in nomenclature(conn).subheadings if c[:2] in corpus.chapters_present or c[:2] < "98"]
    times = []
    statuses: dict[str, int] = {}
    for c in codes:
        t = time.perf_counter()
        m = corpus.rules_for(c, use="passenger_vehicle", trade="MX-US")
        times.append(time.perf_counter() - t)
        statuses[m.status] = statuses.get(m.status, 0) + 1
    times.sort()
    print(f"corpus {corpus.version}: {len(corpus.rules)} rules loaded in {load_s * 1000:.0f} ms")
    print(
        f"rules_for over {len(codes)} subheadings: median {statistics.median(times) * 1e6:.0f} us, "
        f"p95 {times[int(len(times) * 0.95)] * 1e6:.0f} us, max {times[-1] * 1e6:.0f} us"
    )
    print(f"statuses (use=passenger_vehicle, trade=MX-US, no date): {dict(sorted(statuses.items()))}")


if __name__ == "__main__":
    main()
