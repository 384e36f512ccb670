#!/usr/bin/env python3
"""bench/report.py: turns the benchmarks' raw runs into a table, a JSON file,
the figures of docs/performance.md and its plot. bench/run calls it; it can
also be run again by hand (standard library only; the plot needs gnuplot).

  report.py summarize RAW.jsonl OUT.json   prints the tables, writes OUT.json
  report.py markdown RESULTS.json DOC.md   rewrites the part of DOC.md between
                                           <!-- bench:begin --> and
                                           <!-- bench:end --> from
                                           RESULTS.json, and draws DOC.svg
                                           (DOC.md's name, .svg) with gnuplot

RAW.jsonl holds one JSON object per line, as printed with --json by the
benchmark programs (bench_threads, bench_process, bench_map, bench_memory),
the C peers (peer_glib, peer_uv, peer_naive) and the Python peers
(peer_python.py, peer_map.py): {"impl", "version", "params", "runs":
[{figure: value, ...}, ...]}. Lines of the same impl are pooled, in order.
bench/run interleaves the programs one run at a time, so run k of cfut and
run k of each peer saw the same machine state: each ratio cfut / peer is
computed run by run (cfut_k / peer_k), and the tables give their median and
range. Every figure is a cost (time or bytes) except the W3 speedups, so a
ratio below 1 means cfut is cheaper.
"""

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

# Each section: the cfut impl, its peers (impl, name), and its rows: (key,
# label, unit, ratio?). A row lists cfut's figure, then each peer's that has
# the key; "ratio?" says whether cfut / peer means anything for it.
SECTIONS = [
    {"title": "Thread pool", "cfut": "cfut",
     "peers": [("glib", "GLib GThreadPool"),
               ("libuv", "libuv uv_queue_work"),
               ("naive", "naive pool"),
               ("python", "Python ThreadPoolExecutor")],
     "rows": [
         ("w1_ns_per_task", "W1 throughput", "ns/task", True),
         ("w2_median_us", "W2 round trip, median", "us", True),
         ("w2_p99_us", "W2 round trip, p99", "us", True),
         ("w3_seq_s", "W3 sequential (C vs Python code)", "s", False),
         ("w3_pool_s", "W3 pool, 2 workers", "s", False),
         ("w3_speedup", "W3 speedup", "x", False),
         ("w3_ceiling_speedup", "W3 without a pool: the caller and 1 thread (ceiling)", "x",
          False),
         ("w3_shape_speedup", "W3 without a pool: 2 threads, the caller waiting", "x", False),
         ("w3_pool_over_ceiling", "W3 pool's time / the ceiling's, run by run", "x", False),
     ]},
    {"title": "Process pool", "cfut": "cfut-processes",
     "peers": [("python-processes", "Python ProcessPoolExecutor")],
     "rows": [
         ("w1_ns_per_task", "W1 throughput", "ns/task", True),
         ("w2_median_us", "W2 round trip, median", "us", True),
         ("w2_p99_us", "W2 round trip, p99", "us", True),
         ("w3_seq_s", "W3 sequential (C vs Python code)", "s", False),
         ("w3_pool_s", "W3 pool, 2 workers", "s", False),
         ("w3_speedup", "W3 speedup", "x", False),
         ("w3_ceiling_speedup",
          "W3 without a pool: the caller and 1 forked process (ceiling)", "x", False),
         ("w3_shape_speedup", "W3 without a pool: 2 forked processes, the caller waiting",
          "x", False),
         ("w3_pool_over_ceiling", "W3 pool's time / the ceiling's, run by run", "x", False),
         ("w4_median_us", "W4 1 MiB round trip", "us", True),
         ("w4_local_us", "W4 checksum alone, in the caller", "us", False),
         ("w4_transport_us", "W4 round trip minus checksum", "us", True),
         ("w5_cold_ms_forkserver", "W5 cold start, forkserver", "ms", True),
         ("w5_cold_ms_fork", "W5 cold start, fork", "ms", True),
         ("w5_cold_ms_spawn", "W5 cold start, spawn", "ms", True),
         ("w5_replace_ms_forkserver", "W5 worker replacement, forkserver", "ms", False),
         ("w5_replace_ms_fork", "W5 worker replacement, fork", "ms", False),
         ("w5_replace_ms_spawn", "W5 worker replacement, spawn", "ms", False),
     ]},
    {"title": "Map in chunks", "cfut": "cfut-map",
     "peers": [("python-mp-pool-map", "multiprocessing.Pool.map"),
               ("python-ppe-map", "ProcessPoolExecutor.map"),
               ("python-tpe-map", "ThreadPoolExecutor.map")],
     "rows": [
         ("w1map_processes_ns", "W1-map processes, chunksize 1000", "ns/item", True),
         ("w1map_processes_auto_ns", "W1-map processes, cfut's chunksize", "ns/item",
          False),
         ("w1map_threads_ns", "W1-map threads, chunksize 1000 (Python: none)",
          "ns/item", True),
         ("w1map_threads_auto_ns", "W1-map threads, cfut's chunksize", "ns/item", False),
         ("map_call_loop_ns", "sqrt: the plain loop (C vs Python code)", "ns/item", False),
         ("map_call_threads_ns", "sqrt: map_call, threads", "ns/item", False),
         ("map_call_processes_ns", "sqrt: map on processes", "ns/item", True),
     ]},
    {"title": "Memory and idle CPU", "cfut": "cfut-memory", "peers": [],
     "rows": [
         ("mem_threads_bytes", "threads: bytes per pending future", "B", False),
         ("mem_processes_bytes", "processes: bytes per pending future", "B", False),
         ("mem_processes_worker_bytes", "processes: the workers' growth per future",
          "B", False),
         ("mem_threads_submit_ns", "threads: a submit behind the gate", "ns", False),
         ("mem_processes_submit_ns", "processes: a submit behind the gate", "ns", False),
         ("idle_threads_pct", "threads: idle CPU", "% of a core", False),
         ("idle_processes_pct", "processes: idle CPU, all processes", "% of a core",
          False),
         ("idle_processes_self_pct", "processes: idle CPU, the caller's process",
          "% of a core", False),
         ("idle_processes_children_pct", "processes: idle CPU, forkserver and workers",
          "% of a core", False),
     ]},
]


def peer_name(impl):
    for sec in SECTIONS:
        if impl == sec["cfut"]:
            return "cfut"
        for p, name in sec["peers"]:
            if p == impl:
                return name
    return impl


def ratio_of(result, peer, key):
    return result.get("ratios", {}).get(peer, {}).get(key)


def fig_of(result, impl, key):
    return result["summary"].get(impl, {}).get(key)


# The targets of issue #5. Each check gives (what was measured, met?): met
# is None when a figure is missing.
def ratio_at_most(peer, key, bound, what):
    def check(result):
        r = ratio_of(result, peer, key)
        if not r:
            return "no %s figure" % peer_name(peer), None
        x = r["median"]
        inv = " (1/%s)" % fmt(1 / x) if x < 1 else ""
        return ("cfut / %s: %sx%s [%s - %s]" % (what, fmt(x), inv, fmt(r["min"]),
                                                 fmt(r["max"])), x <= bound)
    return check


def value_at_most(impl, key, bound, unit, strict=False, resolution=None):
    """resolution: compare the median rounded to this step, for a figure
    whose last digits are noise (see the memory targets)."""
    def check(result):
        s = fig_of(result, impl, key)
        if not s:
            return "no %s figure" % key, None
        x = s["median"]
        if resolution:
            x = round(x / resolution) * resolution
        return ("%s %s [%s - %s]" % (fmt(s["median"]), unit, fmt(s["min"]), fmt(s["max"])),
                x < bound if strict else x <= bound)
    return check


def value_at_least(impl, key, bound, unit):
    def check(result):
        s = fig_of(result, impl, key)
        if not s:
            return "no %s figure" % key, None
        x = s["median"]
        return ("%s%s [%s - %s]" % (fmt(x), unit, fmt(s["min"]), fmt(s["max"])),
                x >= bound)
    return check


def ceiling(impl, one, shape):
    """Not a verdict: W3 in the same runs without a pool (bench/common.c):
    the caller and `one` (the most two CPUs give), and `shape` with the
    caller waiting, as a pool's are."""
    def check(result):
        c = fig_of(result, impl, "w3_ceiling_speedup")
        w = fig_of(result, impl, "w3_shape_speedup")
        if not c or not w:
            return "no figure without a pool", True
        return ("without a pool in the same runs: the caller and %s %sx [%s - %s], "
                "%s with the caller waiting %sx [%s - %s]"
                % (one, fmt(c["median"]), fmt(c["min"]), fmt(c["max"]), shape,
                   fmt(w["median"]), fmt(w["min"]), fmt(w["max"])), True)
    return check


TARGETS = [
    ("W1 threads", "<= 0.8x libuv's ns/task in the same run, and <= 100 ns/task",
     [ratio_at_most("libuv", "w1_ns_per_task", 0.8, "libuv"),
      value_at_most("cfut", "w1_ns_per_task", 100, "ns/task")]),
    ("W2 threads", "<= 1/3 of GLib's round trip",
     [ratio_at_most("glib", "w2_median_us", 1 / 3, "GLib")]),
    ("W1 processes (one submit per task)",
     ">= 70x Python ProcessPoolExecutor's throughput (<= 2 us/task)",
     [ratio_at_most("python-processes", "w1_ns_per_task", 1 / 70, "Python"),
      value_at_most("cfut-processes", "w1_ns_per_task", 2000, "ns/task")]),
    ("W1-map processes", "<= 0.6x multiprocessing.Pool.map(chunksize=1000) ns/item",
     [ratio_at_most("python-mp-pool-map", "w1map_processes_ns", 0.6,
                    "multiprocessing.Pool")]),
    ("W2 processes", "<= 1/20 of Python ProcessPoolExecutor's round trip",
     [ratio_at_most("python-processes", "w2_median_us", 1 / 20, "Python")]),
    ("W3 threads", ">= 1.95x speedup with 2 workers",
     [value_at_least("cfut", "w3_speedup", 1.95, "x"),
      ceiling("cfut", "1 thread", "2 threads")]),
    ("W3 processes", ">= 1.95x speedup with 2 workers",
     [value_at_least("cfut-processes", "w3_speedup", 1.95, "x"),
      ceiling("cfut-processes", "1 forked process", "2 forked processes")]),
    ("W4 processes", ">= 13x faster than Python",
     [ratio_at_most("python-processes", "w4_median_us", 1 / 13, "Python")]),
    # Whole bytes: the resident set of 1,000,000 futures also holds a few
    # pages that are not theirs (run to run, 127.99-128.13 B per future for
    # a record that is one 128-byte malloc chunk).
    ("memory, threads", "<= 128 bytes per outstanding future",
     [value_at_most("cfut-memory", "mem_threads_bytes", 128, "B", resolution=1)]),
    ("memory, processes", "<= 128 bytes per outstanding future",
     [value_at_most("cfut-memory", "mem_processes_bytes", 128, "B", resolution=1)]),
    ("idle, threads", "< 1% of a core",
     [value_at_most("cfut-memory", "idle_threads_pct", 1, "%", strict=True)]),
    ("idle, processes", "< 1% of a core (the caller, forkserver and workers)",
     [value_at_most("cfut-memory", "idle_processes_pct", 1, "%", strict=True)]),
]


def targets(result):
    """[(workload, target, measured, verdict)]; verdict met / not met / ?"""
    out = []
    for name, want, checks in TARGETS:
        got = [c(result) for c in checks]
        oks = [ok for _, ok in got]
        verdict = ("?" if any(ok is None for ok in oks)
                   else "met" if all(oks) else "not met")
        out.append((name, want, "; ".join(t for t, _ in got), verdict))
    return out


def cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def memory_total():
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return "%.1f GiB" % (int(line.split()[1]) / 2**20)
    except OSError:
        pass
    return "?"


def stats(v):
    return {"median": statistics.median(v), "min": min(v), "max": max(v),
            "runs": v}


def summarize(raw, out):
    by, meta = {}, {}
    with open(raw) as fh:
        for line in fh:
            if not line.strip():
                continue
            d = json.loads(line)
            by.setdefault(d["impl"], []).extend(d["runs"])
            meta[d["impl"]] = {"version": d["version"], "params": d["params"]}

    # Derived, run by run: what W4's round trip costs beyond the checksum.
    for runs in by.values():
        for r in runs:
            if "w4_median_us" in r and "w4_local_us" in r:
                r["w4_transport_us"] = r["w4_median_us"] - r["w4_local_us"]
            # W3 without a pool (bench/common.c): the speedups, and the pool's
            # time over the ceiling's.
            for k in ("ceiling", "shape"):
                if r.get("w3_seq_s") and r.get("w3_%s_s" % k):
                    r["w3_%s_speedup" % k] = r["w3_seq_s"] / r["w3_%s_s" % k]
            if r.get("w3_pool_s") and r.get("w3_ceiling_s"):
                r["w3_pool_over_ceiling"] = r["w3_pool_s"] / r["w3_ceiling_s"]

    summary, ratios = {}, {}
    for impl, runs in by.items():
        keys = sorted({k for r in runs for k in r})
        summary[impl] = {k: stats([r[k] for r in runs if k in r]) for k in keys}
    for sec in SECTIONS:
        mine = sec["cfut"]
        for peer, _ in sec["peers"]:
            if mine not in by or peer not in by:
                continue
            ratios[peer] = {}
            for key, _, _, want in sec["rows"]:
                pairs = [(c[key], p[key]) for c, p in zip(by[mine], by[peer])
                         if key in c and key in p and c[key] > 0 and p[key] > 0]
                if want and pairs:
                    ratios[peer][key] = stats([c / p for c, p in pairs])

    agree = {}
    for key in ("w3_checksum", "w4_checksum"):
        seen = {r[key] for runs in by.values() for r in runs if key in r}
        if seen:
            agree[key] = len(seen) == 1

    load = os.getloadavg()
    before = os.environ.get("CFUT_BENCH_LOAD_BEFORE", "")
    result = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "machine": {"cpu": cpu_model(), "cpus": os.cpu_count(),
                          "memory": memory_total(),
                          "platform": platform.platform(),
                          "loadavg_before": [float(x) for x in before.split()],
                          "loadavg_after": list(load)},
              "ratio": "cfut / peer, run by run",
              "meta": meta, "summary": summary, "ratios": ratios,
              "checksums_agree": agree}
    result["targets"] = [{"workload": n, "target": w, "measured": m, "verdict": v}
                         for n, w, m, v in targets(result)]
    print_tables(result)
    with open(out, "w") as fh:
        json.dump(result, fh, indent=1)
        fh.write("\n")
    print("written: %s" % out)
    return all(agree.values())


def fmt(x):
    if x >= 100:
        return "{:,.0f}".format(x)
    if x >= 10:
        return "%.1f" % x
    if x >= 1:
        return "%.2f" % x
    return "%.3f" % x


def cell(s):
    return "%s [%s - %s]" % (fmt(s["median"]), fmt(s["min"]), fmt(s["max"]))


def plural(n, what):
    return "%d %s%s" % (n, what, "" if n == 1 else "s")


def runs_of(result, impl):
    return max((len(s["runs"]) for s in result["summary"].get(impl, {}).values()),
               default=0)


def notes(result, sec):
    """Parameters that differ between cfut and a peer, said once."""
    out = []
    meta = result["meta"]
    pm = meta.get(sec["cfut"], {}).get("params", {})
    for peer, name in sec["peers"]:
        pp = meta.get(peer, {}).get("params", {})
        if not pp:
            continue
        if pp.get("w1_tasks") and pm.get("w1_tasks") and pp["w1_tasks"] != pm["w1_tasks"]:
            est = ""
            w1 = fig_of(result, peer, "w1_ns_per_task")
            if w1:
                est = ", where %s would take about %.0f s per run" % (
                    "{:,}".format(pm["w1_tasks"]), w1["median"] * pm["w1_tasks"] * 1e-9)
            out.append("W1: cfut ran %s tasks per run, %s %s; the figure is per "
                       "task%s" % ("{:,}".format(pm["w1_tasks"]), name,
                                   "{:,}".format(pp["w1_tasks"]), est))
        if pp.get("start") and peer == "python-processes":
            out.append("Python's W1-W4 use its default start method here, %s; "
                       "cfut's use its default, forkserver" % pp["start"])
        if pm.get("w4_checksum") and pp.get("w4_checksum"):
            out.append("W4 checksum: cfut %s, Python %s"
                       % (pm["w4_checksum"], pp["w4_checksum"]))
        if pp.get("start") and peer == "python-mp-pool-map":
            out.append("the Python pools use %d workers and start method %s; cfut's "
                       "process pools their default size and forkserver"
                       % (pp.get("workers", 0), pp["start"]))
    threads = {meta[i]["params"]["threads"] for i in
               [sec["cfut"]] + [p for p, _ in sec["peers"]]
               if "threads" in meta.get(i, {}).get("params", {})}
    if len(threads) == 1:
        out.append("W1 and W2 ran on %d threads in every C pool (cfut's default "
                   "size, min(32, cpus + 4)), as in Python's" % threads.pop())
    elif threads:
        out.append("the C pools ran on different thread counts: %s"
                   % ", ".join(str(t) for t in sorted(threads)))
    if sec["cfut"] == "cfut-memory":
        p = meta.get("cfut-memory", {}).get("params", {})
        if p:
            out.append("memory: %s futures pending on the thread pool, %s on the "
                       "process pool; idle: %.1f s after %s tasks"
                       % ("{:,}".format(p["futures"]), "{:,}".format(p["process_futures"]),
                          p["idle_ms"] / 1000, "{:,}".format(p["warm_tasks"])))
    return out


def rows_of(result, sec):
    """[(figure, implementation, cell, ratio cell)] of one section."""
    out = []
    for key, label, unit, want_ratio in sec["rows"]:
        for impl, name in [(sec["cfut"], "cfut")] + sec["peers"]:
            s = fig_of(result, impl, key)
            if not s:
                continue
            r = ratio_of(result, impl, key) if want_ratio else None
            ratio = "%sx [%s - %s]" % (fmt(r["median"]), fmt(r["min"]),
                                       fmt(r["max"])) if r else ""
            out.append(("%s (%s)" % (label, unit), name, cell(s), ratio))
    return out


def machine_line(result):
    m = result["machine"]
    load = "after: %.2f %.2f %.2f" % tuple(m["loadavg_after"])
    if m.get("loadavg_before"):
        load = "before: %s; %s" % (" ".join("%.2f" % x for x in m["loadavg_before"]),
                                   load)
    return "%s, %s CPUs, %s of memory, %s; load average (1, 5, 15 min) %s" % (
        m["cpu"], m["cpus"], m.get("memory", "?"), m["platform"], load)


def print_tables(result):
    print("machine: " + machine_line(result))
    print("figures: median [min - max]; cfut / it: cfut's figure over the "
          "implementation's, run by run (below 1: cfut is cheaper)")
    for sec in SECTIONS:
        rows = rows_of(result, sec)
        if not rows:
            continue
        print("\n%s (%s each, interleaved)" % (
            sec["title"], plural(runs_of(result, sec["cfut"]), "run")))
        wl = max(len(r[0]) for r in rows)
        wn = max(len(r[1]) for r in rows)
        wc = max(len(r[2]) for r in rows + [("", "", "median [min - max]")])
        print("%-*s  %-*s  %-*s  %s" % (wl, "", wn, "", wc, "median [min - max]",
                                        "cfut / it"))
        last = None
        for label, name, c, r in rows:
            print(("%-*s  %-*s  %-*s  %s" % (wl, label if label != last else "", wn,
                                             name, wc, c, r)).rstrip())
            last = label
        for n in notes(result, sec):
            print("  note: " + n)
    for key, ok in result.get("checksums_agree", {}).items():
        print("%s agree between implementations: %s" % (key, "yes" if ok else "NO"))
    print("\nTargets (issue #5)")
    for name, want, got, verdict in targets(result):
        print("  %-36s %-8s %s  [target: %s]" % (name, verdict, got, want))


# The plot: W1 and W2 of every implementation, grouped by pool, log scale.
PLOT_SERIES = [  # (title, {group: (impl, key)})
    ("cfut", {"threads": ("cfut", "w1_ns_per_task"),
              "processes": ("cfut-processes", "w1_ns_per_task"),
              "map": ("cfut-map", "w1map_processes_ns")}),
    ("GLib", {"threads": ("glib", "w1_ns_per_task")}),
    ("libuv", {"threads": ("libuv", "w1_ns_per_task")}),
    ("naive pool", {"threads": ("naive", "w1_ns_per_task")}),
    ("Python concurrent.futures", {"threads": ("python", "w1_ns_per_task"),
                                   "processes": ("python-processes", "w1_ns_per_task"),
                                   "map": ("python-ppe-map", "w1map_processes_ns")}),
    ("Python multiprocessing.Pool", {"map": ("python-mp-pool-map",
                                             "w1map_processes_ns")}),
]
W1_GROUPS = [("threads", "W1 threads"), ("processes", "W1 processes"),
             ("map", "W1-map processes")]
W2_GROUPS = [("threads", "W2 threads"), ("processes", "W2 processes")]


def plot_data(result, groups, w2):
    """The data block of one panel, and the highest value in it."""
    lines, top = [], 1.0
    for g, label in groups:
        cols = ['"%s"' % label]
        for _, where in PLOT_SERIES:
            impl, key = where.get(g, (None, None))
            if w2 and impl:
                key = "w2_median_us"
            s = fig_of(result, impl, key) if impl else None
            cols += (["%g" % s["median"], "%g" % s["min"], "%g" % s["max"]] if s
                     else ["NaN"] * 3)
            top = max(top, s["max"]) if s else top
        lines.append(" ".join(cols))
    return "\n".join(lines), top


def plot(result, svg):
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print("report.py: no gnuplot here (apt-get install gnuplot-nox): %s not drawn"
              % svg, file=sys.stderr)
        return False
    using = ", ".join(
        "%s using %d:%d:%d%s title '%s'" % ("$D" if i == 0 else "''", 3 * i + 2,
                                            3 * i + 3, 3 * i + 4,
                                            ":xtic(1)" if i == 0 else "", title)
        for i, (title, _) in enumerate(PLOT_SERIES))
    script = """set terminal svg size 960,560 dynamic font 'sans,11' background '#ffffff'
set output '%(svg)s'
set datafile missing 'NaN'
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.8 border -1
set logscale y
set grid ytics
set multiplot layout 1,2 title 'cfut vs peers: median of the runs, whiskers min-max (log scale; lower is better)'
$D << EOD
%(w1)s
EOD
set title 'W1: one no-op task (ns per task or item)'
set format y '%%.0s%%c'
set yrange [10:%(w1top)g]
set bmargin 8
set key at screen 0.5,0.07 center center horizontal maxrows 2 font 'sans,10' width -2 samplen 2
plot %(using)s
$D << EOD
%(w2)s
EOD
set title 'W2: one round trip, median (us)'
set format y '%%g'
set yrange [0.1:%(w2top)g]
unset key
plot %(using)s
unset multiplot
"""
    w1, w1top = plot_data(result, W1_GROUPS, False)
    w2, w2top = plot_data(result, W2_GROUPS, True)
    script %= {"svg": svg, "w1": w1, "w2": w2, "using": using,
               "w1top": w1top * 3, "w2top": w2top * 3}
    run = subprocess.run([gnuplot], input=script, text=True, capture_output=True)
    if run.returncode != 0:
        print("report.py: gnuplot failed:\n" + run.stderr, file=sys.stderr)
        return False
    print("written: %s" % svg)
    return True


def markdown(results, doc):
    with open(results) as fh:
        result = json.load(fh)
    meta = result["meta"]
    svg = os.path.splitext(doc)[0] + ".svg"
    lines = ["<!-- bench:begin: generated by bench/report.py from "
             "bench/results.json; edit outside these markers -->", ""]
    versions = ["cfut %s (`-Dbuildtype=release`)"
                % meta.get("cfut", meta.get("cfut-processes", {})).get("version", "?")]
    for impl, name in (("glib", "GLib"), ("libuv", "libuv"), ("python", "Python")):
        if impl in meta:
            versions.append("%s %s" % (name, meta[impl]["version"]))
    lines.append("%s; run on %s: %s." % (", ".join(versions), result["date"][:10],
                                         machine_line(result)))
    lines.append("")
    if plot(result, svg):
        lines += ["![W1 and W2 of cfut and its peers](%s)" % os.path.basename(svg), ""]
    lines.append("Each cell: median [min - max] over the runs. The last column is "
                 "cfut's figure over the implementation's, computed run by run "
                 "(median [min - max]): below 1, cfut is cheaper.")
    for sec in SECTIONS:
        rows = rows_of(result, sec)
        if not rows:
            continue
        lines += ["", "### %s" % sec["title"], "",
                  "%s of each, interleaved." % plural(runs_of(result, sec["cfut"]), "run"),
                  "",
                  "| figure | implementation | median [min - max] | cfut / it |",
                  "| --- | --- | --- | --- |"]
        last = None
        for label, name, c, r in rows:
            lines.append("| %s | %s | %s | %s |" % (label if label != last else "",
                                                    name, c, r))
            last = label
        ns = notes(result, sec)
        if ns:
            lines.append("")
            lines += ["- %s." % (n[0].upper() + n[1:]) for n in ns]
    agree = result.get("checksums_agree", {})
    if agree:
        lines += ["", "Checksums agree between the implementations: " +
                  ", ".join("%s %s" % (k.split("_")[0].upper(),
                                       "yes" if v else "**NO**")
                            for k, v in agree.items()) + "."]
    lines += ["", "### The targets of issue #5", "",
              "Computed from the figures above: a ratio target from the median "
              "of the run-by-run ratios, an absolute one from the median figure.",
              "", "| workload | target | measured | |", "| --- | --- | --- | --- |"]
    for name, want, got, verdict in targets(result):
        lines.append("| %s | %s | %s | %s |" % (
            name, want.replace("<=", "≤").replace(">=", "≥"), got,
            {"met": "met", "not met": "**not met**"}.get(verdict, "no figure")))
    lines += ["", "<!-- bench:end -->"]

    with open(doc) as fh:
        text = fh.read()
    b = text.find("<!-- bench:begin")
    e = text.find("<!-- bench:end -->")
    if b < 0 or e < 0:
        sys.exit("report.py: %s has no bench:begin/bench:end markers" % doc)
    e += len("<!-- bench:end -->")
    with open(doc, "w") as fh:
        fh.write(text[:b] + "\n".join(lines) + text[e:])
    print("written: %s" % doc)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "summarize":
        sys.exit(0 if summarize(sys.argv[2], sys.argv[3]) else 1)
    if len(sys.argv) == 4 and sys.argv[1] == "markdown":
        markdown(sys.argv[2], sys.argv[3])
        return
    sys.exit(__doc__)


if __name__ == "__main__":
    main()
