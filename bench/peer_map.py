#!/usr/bin/env python3
"""The Python peer of bench_map.c: mapping in chunks with the standard library.

  W1-map    200,000 no-op items (the function returns its integer argument),
            every result checked; ns per item:
              ProcessPoolExecutor.map(echo, xs, chunksize=1000)
              multiprocessing.Pool.map(echo, xs, chunksize=1000)
              ThreadPoolExecutor.map(echo, xs)   (it has no chunks: one
                                                  future per item)
  map_call  math.sqrt (the C library's sqrt) over 10,000,000 floats, the same
            values as bench_map.c, results compared with the plain loop's:
              list(map(math.sqrt, xs))             the plain loop, here
              multiprocessing.Pool.map(math.sqrt, xs)  its default chunksize,
                                                  n / (4 * workers)
              ProcessPoolExecutor.map(math.sqrt, xs, chunksize=4096)
                                                  (cfut's default here)
            ns per item.

Pools have their default size (processes: cpus; threads: min(32, cpus + 4))
and start method (fork on Linux before Python 3.14), and are warm: each run
makes fresh pools and maps a few small chunks through them before the clock
starts, as bench_map.c does.

Usage: peer_map.py [--runs N] [--json] [--quick] [--items N] [--chunksize N]
                   [--call-n N] [--no-threads]
--json prints one line per implementation (impl python-ppe-map,
python-mp-pool-map, python-tpe-map), each {"impl", "version", "params",
"runs"}, with the figure names of bench_map.c (w1map_processes_ns, ...), so
bench/report.py can compute the ratios run by run.
"""

import argparse
import json
import math
import multiprocessing
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor


def echo(x):
    return x


def warm(mapper):
    if list(mapper(echo, range(64))) != list(range(64)):
        sys.exit("peer_map: warm-up map failed")


def w1map(mapper, items):
    t0 = time.perf_counter()
    got = mapper(echo, range(items))
    for i, v in enumerate(got):  # a lazy map does its work here
        if v != i:
            sys.exit("peer_map: W1-map item %d returned %r" % (i, v))
    t1 = time.perf_counter()
    return (t1 - t0) * 1e9 / items


def call(mapper, xs, want):
    t0 = time.perf_counter()
    got = list(mapper(math.sqrt, xs))
    t1 = time.perf_counter()
    if got != want:
        sys.exit("peer_map: sqrt results differ from the loop's")
    return (t1 - t0) * 1e9 / len(xs)


def one_run(a, xs):
    ppe, pool, tpe = {}, {}, {}
    t0 = time.perf_counter()
    want = list(map(math.sqrt, xs))
    loop = (time.perf_counter() - t0) * 1e9 / len(xs)
    ppe["map_call_loop_ns"] = pool["map_call_loop_ns"] = loop

    with ProcessPoolExecutor() as ex:
        warm(lambda f, it: ex.map(f, it, chunksize=1))
        ppe["w1map_processes_ns"] = w1map(
            lambda f, it: ex.map(f, it, chunksize=a.chunksize), a.items)
        ppe["map_call_processes_ns"] = call(
            lambda f, it: ex.map(f, it, chunksize=4096), xs, want)
    with multiprocessing.Pool() as p:
        warm(lambda f, it: p.map(f, it, chunksize=1))
        pool["w1map_processes_ns"] = w1map(
            lambda f, it: p.map(f, it, chunksize=a.chunksize), a.items)
        pool["map_call_processes_ns"] = call(p.map, xs, want)
    if not a.no_threads:
        with ThreadPoolExecutor() as ex:
            warm(ex.map)
            tpe["w1map_threads_ns"] = w1map(ex.map, a.items)
    return ppe, pool, tpe


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--items", type=int, default=200000)
    ap.add_argument("--chunksize", type=int, default=1000)
    ap.add_argument("--call-n", type=int, default=10000000)
    ap.add_argument("--no-threads", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.items, a.call_n, a.runs = 2000, 20000, 1

    xs = [i * 0.5 for i in range(a.call_n)]  # the values of bench_map.c
    runs = {"python-ppe-map": [], "python-mp-pool-map": [], "python-tpe-map": []}
    for k in range(a.runs):
        ppe, pool, tpe = one_run(a, xs)
        runs["python-ppe-map"].append(ppe)
        runs["python-mp-pool-map"].append(pool)
        if tpe:
            runs["python-tpe-map"].append(tpe)
        if not a.json:
            print("run %d: W1-map %.0f/%.0f ns/item (ProcessPoolExecutor/Pool), "
                  "sqrt %.1f/%.1f/%.1f ns/item (loop/ProcessPoolExecutor/Pool)" % (
                      k + 1, ppe["w1map_processes_ns"], pool["w1map_processes_ns"],
                      ppe["map_call_loop_ns"], ppe["map_call_processes_ns"],
                      pool["map_call_processes_ns"]), file=sys.stderr)

    version = sys.version.split()[0]
    params = {"w1map_items": a.items, "w1map_chunksize": a.chunksize,
              "map_call_n": a.call_n, "map_call_fn": "math.sqrt",
              "start": multiprocessing.get_start_method(),
              "workers": multiprocessing.cpu_count()}
    if a.json:
        for impl, r in runs.items():
            if r:
                print(json.dumps({"impl": impl, "version": version,
                                  "params": params, "runs": r}))
        return
    print("Python %s map (start method %s), %d runs: median [min - max]" % (
        version, params["start"], a.runs))
    rows = [
        ("python-ppe-map", "w1map_processes_ns",
         "W1-map ProcessPoolExecutor, chunksize %d" % a.chunksize, "ns/item"),
        ("python-mp-pool-map", "w1map_processes_ns",
         "W1-map multiprocessing.Pool, chunksize %d" % a.chunksize, "ns/item"),
        ("python-tpe-map", "w1map_threads_ns",
         "W1-map ThreadPoolExecutor (no chunks)", "ns/item"),
        ("python-ppe-map", "map_call_loop_ns", "sqrt: list(map(math.sqrt, xs))",
         "ns/item"),
        ("python-ppe-map", "map_call_processes_ns",
         "sqrt: ProcessPoolExecutor.map, chunksize 4096", "ns/item"),
        ("python-mp-pool-map", "map_call_processes_ns",
         "sqrt: multiprocessing.Pool.map, default chunksize", "ns/item"),
    ]
    for impl, key, label, unit in rows:
        v = [r[key] for r in runs[impl] if key in r]
        if v:
            print("  %-50s %10.2f %-7s [%.2f - %.2f]" % (
                label, statistics.median(v), unit, min(v), max(v)))


if __name__ == "__main__":
    main()
