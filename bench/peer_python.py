#!/usr/bin/env python3
"""The Python peer of bench_threads.c and bench_process.c: the same
workloads with concurrent.futures (standard library only).

--pool threads (the default): ThreadPoolExecutor, as bench_threads.c.
  W1 throughput  200,000 tasks returning their integer argument: all
                 submitted, then every result collected and checked; ns/task.
  W2 latency     one submit + result() round trip, 20,000 in sequence;
                 median and p99 in microseconds.
  W3 scaling     a 2e7-step integer hash chain (the same as bench_threads.c,
                 masked to 32 bits) over 8 items with 2 workers; speedup over
                 the sequential loop in the same run. With the GIL, expect ~1x.
  W1 and W2 use the default pool size, min(32, cpus + 4), as cfut does.

--pool processes: ProcessPoolExecutor (default start method: fork on Linux
before Python 3.14), as bench_process.c.
  W1             as above, but 50,000 tasks by default: at ~150 us per task
                 200,000 would take half a minute per run. The figure is per
                 task, so the sizes compare; --w1-tasks 200000 runs them all.
  W2, W3         as above (W3 now scales: each worker has its own GIL).
  W4 large value a 1 MiB bytes argument (the same bytes as bench_process.c),
                 its zlib.adler32 returned, 500 round trips in sequence:
                 median us; and the checksum alone in the caller.
  W5 start       per start method (fork, forkserver, spawn): a fresh pool of
                 1 worker, one round trip, shutdown(wait=True); median ms.
  W1, W2 and W4 use the default pool size (cpus), as cfut does.

Usage: peer_python.py [--pool threads|processes] [--runs N] [--json]
                      [--quick] [--w1-tasks N] [--w2-trips N] [--w3-steps N]
                      [--w3-items N] [--w3-workers N] [--w4-bytes N]
                      [--w4-trips N] [--w5-reps N]
"""

import argparse
import json
import multiprocessing
import statistics
import sys
import time
import zlib
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

M32 = 0xFFFFFFFF


def echo(x):
    return x


def chain(h, steps):
    for i in range(steps):
        h ^= h >> 13
        h = (h * 0x5BD1E995 + i) & M32
    return h


def checksum(b):
    return zlib.adler32(b)


def w4_buffer(n):
    """The same bytes as bench_process.c's w4_buffer()."""
    return bytes(((i * 2654435761) >> 13) & 255 for i in range(n))


def quantile(sorted_v, q):
    """Nearest rank, as in bench_threads.c."""
    n = len(sorted_v)
    k = int(q * n + 0.999999)
    k = min(max(k, 1), n)
    return sorted_v[k - 1]


def w1_throughput(tasks, Pool):
    with Pool() as ex:
        t0 = time.perf_counter()
        fs = [ex.submit(echo, i) for i in range(tasks)]
        for i, f in enumerate(fs):
            v = f.result()
            if v != i:
                sys.exit("peer_python: W1 task %d returned %r" % (i, v))
        t1 = time.perf_counter()
    return (t1 - t0) * 1e9 / tasks


def w2_latency(trips, Pool):
    lat = []
    with Pool() as ex:
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


def w3_scaling(steps, items, workers, Pool):
    t0 = time.perf_counter()
    want = [chain(i + 1, steps) for i in range(items)]
    t1 = time.perf_counter()
    with Pool(max_workers=workers) as ex:
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


def w4_large(nbytes, trips):
    buf = w4_buffer(nbytes)
    local = []
    for _ in range(trips):
        t0 = time.perf_counter()
        want = checksum(buf)
        local.append((time.perf_counter() - t0) * 1e6)
    lat = []
    with ProcessPoolExecutor() as ex:
        warm = trips // 20 + 1
        for i in range(-warm, trips):
            t0 = time.perf_counter()
            c = ex.submit(checksum, buf).result()
            t1 = time.perf_counter()
            if c != want:
                sys.exit("peer_python: W4 returned %r, want %r" % (c, want))
            if i >= 0:
                lat.append((t1 - t0) * 1e6)
    return statistics.median(lat), statistics.median(local), want


W5_METHODS = ("forkserver", "fork", "spawn")


def w5_start(method, reps):
    ctx = multiprocessing.get_context(method)
    v = []
    for _ in range(reps):
        t0 = time.perf_counter()
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as ex:
            if ex.submit(echo, 7).result() != 7:
                sys.exit("peer_python: W5 %s: wrong result" % method)
        v.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(v)


def run_processes(a):
    P = ProcessPoolExecutor
    r = {"w1_ns_per_task": w1_throughput(a.w1_tasks, P)}
    r["w2_median_us"], r["w2_p99_us"] = w2_latency(a.w2_trips, P)
    seq, pool, ck = w3_scaling(a.w3_steps, a.w3_items, a.w3_workers, P)
    r.update(w3_seq_s=seq, w3_pool_s=pool, w3_speedup=seq / pool, w3_checksum=ck)
    r["w4_median_us"], r["w4_local_us"], r["w4_checksum"] = w4_large(
        a.w4_bytes, a.w4_trips)
    for m in W5_METHODS:
        r["w5_cold_ms_" + m] = w5_start(m, a.w5_reps)
    return r


def run_threads(a):
    T = ThreadPoolExecutor
    r = {"w1_ns_per_task": w1_throughput(a.w1_tasks, T)}
    r["w2_median_us"], r["w2_p99_us"] = w2_latency(a.w2_trips, T)
    seq, pool, ck = w3_scaling(a.w3_steps, a.w3_items, a.w3_workers, T)
    r.update(w3_seq_s=seq, w3_pool_s=pool, w3_speedup=seq / pool, w3_checksum=ck)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pool", choices=("threads", "processes"), default="threads")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--w1-tasks", type=int, default=None,
                    help="200000 (threads) or 50000 (processes)")
    ap.add_argument("--w2-trips", type=int, default=20000)
    ap.add_argument("--w3-steps", type=int, default=20000000)
    ap.add_argument("--w3-items", type=int, default=8)
    ap.add_argument("--w3-workers", type=int, default=2)
    ap.add_argument("--w4-bytes", type=int, default=1 << 20)
    ap.add_argument("--w4-trips", type=int, default=500)
    ap.add_argument("--w5-reps", type=int, default=20)
    a = ap.parse_args()
    procs = a.pool == "processes"
    if a.w1_tasks is None:
        a.w1_tasks = 50000 if procs else 200000
    if a.quick:
        a.w1_tasks, a.w2_trips, a.w3_steps, a.runs = 2000, 200, 200000, 1
        a.w4_trips, a.w5_reps = 20, 2

    runs = []
    for k in range(a.runs):
        r = run_processes(a) if procs else run_threads(a)
        runs.append(r)
        if not a.json:
            print("run %d: W1 %.0f ns/task, W2 %.1f/%.1f us, W3 x%.2f%s" % (
                k + 1, r["w1_ns_per_task"], r["w2_median_us"], r["w2_p99_us"],
                r["w3_speedup"],
                ", W4 %.0f us" % r["w4_median_us"] if procs else ""),
                file=sys.stderr)

    params = {"w1_tasks": a.w1_tasks, "w2_trips": a.w2_trips,
              "w3_steps": a.w3_steps, "w3_items": a.w3_items,
              "w3_workers": a.w3_workers}
    if procs:
        params.update(w4_bytes=a.w4_bytes, w4_trips=a.w4_trips,
                      w4_checksum="zlib.adler32 (zlib %s)" % zlib.ZLIB_RUNTIME_VERSION,
                      w5_reps=a.w5_reps,
                      start=multiprocessing.get_start_method())
    if a.json:
        print(json.dumps({
            "impl": "python-processes" if procs else "python",
            "version": sys.version.split()[0],
            "params": params,
            "runs": runs}))
        return
    print("Python %s %s, %d runs: median [min - max]" % (
        sys.version.split()[0],
        "ProcessPoolExecutor (%s)" % params["start"] if procs
        else "ThreadPoolExecutor", a.runs))
    rows = [("w1_ns_per_task", "W1 throughput", "ns"),
            ("w2_median_us", "W2 latency median", "us"),
            ("w2_p99_us", "W2 latency p99", "us"),
            ("w3_seq_s", "W3 sequential", "s"),
            ("w3_pool_s", "W3 pool", "s"),
            ("w3_speedup", "W3 speedup", "x")]
    if procs:
        rows += [("w4_median_us", "W4 1 MiB round trip", "us"),
                 ("w4_local_us", "W4 checksum alone", "us")]
        rows += [("w5_cold_ms_" + m, "W5 %s cold start" % m, "ms")
                 for m in W5_METHODS]
    for key, label, unit in rows:
        v = [r[key] for r in runs]
        print("  %-28s %10.3f %-5s [%.3f - %.3f]" % (
            label, statistics.median(v), unit, min(v), max(v)))

if __name__ == "__main__":
    main()
