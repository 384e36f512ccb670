#!/usr/bin/env python3
"""The Python peer of bench_threads.c: the same three workloads with
concurrent.futures.ThreadPoolExecutor (standard library only).

  W1 throughput  200,000 tasks returning their integer argument: all
                 submitted, then every result collected and checked; ns/task.
  W2 latency     one submit + result() round trip, 20,000 in sequence;
                 median and p99 in microseconds.
  W3 scaling     a 2e7-step integer hash chain (the same as bench_threads.c,
                 masked to 32 bits) over 8 items with 2 workers; speedup over
                 the sequential loop in the same run. With the GIL, expect ~1x.

W1 and W2 use the default pool size, min(32, cpus + 4), as cfut does.
Usage: peer_python.py [--runs N] [--json] [--quick] [--w1-tasks N]
                      [--w2-trips N] [--w3-steps N] [--w3-items N]
                      [--w3-workers N]
"""

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

M32 = 0xFFFFFFFF


def echo(x):
    return x


def chain(h, steps):
    for i in range(steps):
        h ^= h >> 13
        h = (h * 0x5BD1E995 + i) & M32
    return h


def quantile(sorted_v, q):
    """Nearest rank, as in bench_threads.c."""
    n = len(sorted_v)
    k = int(q * n + 0.999999)
    k = min(max(k, 1), n)
    return sorted_v[k - 1]


def w1_throughput(tasks):
    with ThreadPoolExecutor() as ex:
        t0 = time.perf_counter()
        fs = [ex.submit(echo, i) for i in range(tasks)]
        for i, f in enumerate(fs):
            v = f.result()
            if v != i:
                sys.exit("peer_python: W1 task %d returned %r" % (i, v))
        t1 = time.perf_counter()
    return (t1 - t0) * 1e9 / tasks


def w2_latency(trips):
    lat = []
    with ThreadPoolExecutor() as ex:
        warm = trips // 20 + 1
        for i in range(-warm, trips):
            t0 = time.perf_counter()
            r = ex.submit(echo, i).result()
            t1 = time.perf_counter()
            if r != i:
                sys.exit("peer_python: W2 returned %r" % (r,))
            if i >= 0:
                lat.append((t1 - t0) * 1e6)
    lat.sort()
    return quantile(lat, 0.5), quantile(lat, 0.99)


def w3_scaling(steps, items, workers):
    t0 = time.perf_counter()
    want = [chain(i + 1, steps) for i in range(items)]
    t1 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as ex:
        t2 = time.perf_counter()
        fs = [ex.submit(chain, i + 1, steps) for i in range(items)]
        got = [f.result() for f in fs]
        t3 = time.perf_counter()
    if got != want:
        sys.exit("peer_python: W3 results differ: %r vs %r" % (got, want))
    checksum = 0
    for h in got:
        checksum ^= h
    return t1 - t0, t3 - t2, checksum


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--w1-tasks", type=int, default=200000)
    ap.add_argument("--w2-trips", type=int, default=20000)
    ap.add_argument("--w3-steps", type=int, default=20000000)
    ap.add_argument("--w3-items", type=int, default=8)
    ap.add_argument("--w3-workers", type=int, default=2)
    a = ap.parse_args()
    if a.quick:
        a.w1_tasks, a.w2_trips, a.w3_steps, a.runs = 2000, 200, 200000, 1

    runs = []
    for k in range(a.runs):
        r = {"w1_ns_per_task": w1_throughput(a.w1_tasks)}
        r["w2_median_us"], r["w2_p99_us"] = w2_latency(a.w2_trips)
        seq, pool, checksum = w3_scaling(a.w3_steps, a.w3_items, a.w3_workers)
        r.update(w3_seq_s=seq, w3_pool_s=pool, w3_speedup=seq / pool,
                 w3_checksum=checksum)
        runs.append(r)
        if not a.json:
            print("run %d: W1 %.0f ns/task, W2 %.1f/%.1f us, W3 x%.2f" % (
                k + 1, r["w1_ns_per_task"], r["w2_median_us"], r["w2_p99_us"],
                r["w3_speedup"]), file=sys.stderr)

    if a.json:
        print(json.dumps({
            "impl": "python",
            "version": sys.version.split()[0],
            "params": {"w1_tasks": a.w1_tasks, "w2_trips": a.w2_trips,
                       "w3_steps": a.w3_steps, "w3_items": a.w3_items,
                       "w3_workers": a.w3_workers},
            "runs": runs}))
        return
    print("Python %s ThreadPoolExecutor, %d runs: median [min - max]" % (
        sys.version.split()[0], a.runs))
    for key, label, unit in [
            ("w1_ns_per_task", "W1 throughput", "ns"),
            ("w2_median_us", "W2 latency median", "us"),
            ("w2_p99_us", "W2 latency p99", "us"),
            ("w3_seq_s", "W3 sequential", "s"),
            ("w3_pool_s", "W3 pool", "s"),
            ("w3_speedup", "W3 speedup", "x")]:
        v = [r[key] for r in runs]
        print("  %-26s %10.3f %-5s [%.3f - %.3f]" % (
            label, statistics.median(v), unit, min(v), max(v)))


if __name__ == "__main__":
    main()
