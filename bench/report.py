#!/usr/bin/env python3
"""bench/report.py: turns the benchmarks' raw runs into a table, a JSON file
and the figures of docs/performance.md. bench/run calls it; it can also be
run again by hand (standard library only).

  report.py summarize RAW.jsonl OUT.json   prints the table, writes OUT.json
  report.py markdown RESULTS.json DOC.md   rewrites the part of DOC.md between
                                           <!-- bench:begin --> and
                                           <!-- bench:end --> from RESULTS.json

RAW.jsonl holds one JSON object per line, as printed by `bench_threads
--json`, `bench_process --json` and `peer_python.py --json`: {"impl",
"version", "params", "runs": [{figure: value, ...}, ...]}. Lines of the same
impl are pooled. bench/run interleaves the programs one run at a time, so run
k of cfut and run k of its peer saw the same machine state: each ratio is
computed run by run (peer_k / cfut_k), and the table gives their median.
"""

import json
import os
import platform
import statistics
import sys
import time

# (cfut impl, peer impl, title, rows). A row: key, label, unit, ratio?
SECTIONS = [
    ("cfut", "python", "Thread pool: cfut vs Python ThreadPoolExecutor", [
        ("w1_ns_per_task", "W1 throughput", "ns/task", True),
        ("w2_median_us", "W2 round trip, median", "us", True),
        ("w2_p99_us", "W2 round trip, p99", "us", True),
        ("w3_seq_s", "W3 sequential", "s", False),
        ("w3_pool_s", "W3 pool, 2 workers", "s", False),
        ("w3_speedup", "W3 speedup", "x", False),
    ]),
    ("cfut-processes", "python-processes",
     "Process pool: cfut vs Python ProcessPoolExecutor", [
        ("w1_ns_per_task", "W1 throughput", "ns/task", True),
        ("w2_median_us", "W2 round trip, median", "us", True),
        ("w2_p99_us", "W2 round trip, p99", "us", True),
        ("w3_seq_s", "W3 sequential", "s", False),
        ("w3_pool_s", "W3 pool, 2 workers", "s", False),
        ("w3_speedup", "W3 speedup", "x", False),
        ("w4_median_us", "W4 1 MiB round trip", "us", True),
        ("w4_local_us", "W4 checksum alone, in the caller", "us", False),
        ("w4_transport_us", "W4 round trip minus checksum", "us", True),
        ("w5_cold_ms_forkserver", "W5 cold start, forkserver", "ms", True),
        ("w5_cold_ms_fork", "W5 cold start, fork", "ms", True),
        ("w5_cold_ms_spawn", "W5 cold start, spawn", "ms", True),
        ("w5_replace_ms_forkserver", "W5 worker replacement, forkserver", "ms", False),
        ("w5_replace_ms_fork", "W5 worker replacement, fork", "ms", False),
        ("w5_replace_ms_spawn", "W5 worker replacement, spawn", "ms", False),
    ]),
]

def cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


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

    summary, ratios = {}, {}
    for impl, runs in by.items():
        keys = sorted({k for r in runs for k in r})
        summary[impl] = {k: stats([r[k] for r in runs if k in r]) for k in keys}
    for mine, peer, _, rows in SECTIONS:
        if mine not in by or peer not in by:
            continue
        ratios[peer] = {}
        for key, _, _, want in rows:
            pairs = [(c[key], p[key]) for c, p in zip(by[mine], by[peer])
                     if key in c and key in p and c[key] > 0 and p[key] > 0]
            if want and pairs:
                ratios[peer][key] = stats([p / c for c, p in pairs])

    agree = {}
    for key in ("w3_checksum", "w4_checksum"):
        seen = {r[key] for runs in by.values() for r in runs if key in r}
        if seen:
            agree[key] = len(seen) == 1

    load = os.getloadavg()
    before = os.environ.get("CFUT_BENCH_LOAD_BEFORE", "")
    result = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "machine": {"cpu": cpu_model(), "cpus": os.cpu_count(),
                          "platform": platform.platform(),
                          "loadavg_before": [float(x) for x in before.split()],
                          "loadavg_after": list(load)},
              "meta": meta, "summary": summary, "ratios": ratios,
              "checksums_agree": agree}
    print_table(result)
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


def notes(result, mine, peer):
    """Parameters that differ between the two sides, said once."""
    out = []
    pm = result["meta"].get(mine, {}).get("params", {})
    pp = result["meta"].get(peer, {}).get("params", {})
    if pm.get("w1_tasks") != pp.get("w1_tasks") and pp.get("w1_tasks"):
        est = ""
        w1 = result["summary"].get(peer, {}).get("w1_ns_per_task")
        if w1 and pm.get("w1_tasks"):
            est = ", where %s would take about %.0f s per run" % (
                "{:,}".format(pm["w1_tasks"]),
                w1["median"] * pm["w1_tasks"] * 1e-9)
        out.append("W1: cfut ran %s tasks per run, Python %s; the figure is "
                   "per task%s"
                   % ("{:,}".format(pm.get("w1_tasks", 0)),
                      "{:,}".format(pp["w1_tasks"]), est))
    if pp.get("start"):
        out.append("Python's W1-W4 use its default start method here, %s; "
                   "cfut's use its default, forkserver" % pp["start"])
    if pm.get("w4_checksum") or pp.get("w4_checksum"):
        out.append("W4 checksum: cfut %s, Python %s"
                   % (pm.get("w4_checksum", "?"), pp.get("w4_checksum", "?")))
    return out


def rows_of(result, section):
    mine, peer, title, rows = section
    s = result["summary"]
    out = []
    for key, label, unit, want_ratio in rows:
        c = s.get(mine, {}).get(key)
        p = s.get(peer, {}).get(key)
        if not c and not p:
            continue
        r = result.get("ratios", {}).get(peer, {}).get(key)
        if r:
            ratio = "%sx [%s - %s]" % (fmt(r["median"]), fmt(r["min"]), fmt(r["max"]))
        elif key == "w3_seq_s" and c and p:
            ratio = "(C vs Python code)"
        else:
            ratio = ""
        out.append(("%s (%s)" % (label, unit), cell(c) if c else "-",
                    cell(p) if p else "-", ratio))
    return out


def print_table(result):
    m = result["machine"]
    print("machine: %s, %s cpus, %s; load average now %.2f %.2f %.2f" % (
        m["cpu"], m["cpus"], m["platform"], *m["loadavg_after"]))
    print("figures: median [min - max]; peer/cfut: the peer's figure over "
          "cfut's, run by run")
    for sec in SECTIONS:
        mine, peer, title, _ = sec
        if mine not in result["summary"] and peer not in result["summary"]:
            continue
        runs = len(result["summary"].get(mine, result["summary"].get(peer, {}))
                   .get("w1_ns_per_task", {}).get("runs", []))
        print("\n%s (%d runs each, interleaved)" % (title, runs))
        print("%-40s %-30s %-30s %s" % ("", "cfut", "python", "python/cfut"))
        for label, c, p, r in rows_of(result, sec):
            print("%-40s %-30s %-30s %s" % (label, c, p, r))
        for n in notes(result, mine, peer):
            print("  note: " + n)
    for key, ok in result.get("checksums_agree", {}).items():
        print("%s agree between implementations: %s" % (key, "yes" if ok else "NO"))


def markdown(results, doc):
    with open(results) as fh:
        result = json.load(fh)
    m = result["machine"]
    meta = result["meta"]
    lines = ["<!-- bench:begin: generated by bench/report.py from "
             "bench/results.json; edit outside these markers -->", ""]
    cv = meta.get("cfut", meta.get("cfut-processes", {})).get("version", "?")
    pv = meta.get("python", meta.get("python-processes", {})).get("version", "?")
    load = "after the run: %.2f %.2f %.2f" % tuple(m["loadavg_after"])
    if m.get("loadavg_before"):
        load = "before the run: %s; %s" % (
            " ".join("%.2f" % x for x in m["loadavg_before"]), load)
    lines.append("cfut %s (`-Dbuildtype=release`) against Python %s, run on "
                 "%s: %s, %s CPUs, %s. Load average (1, 5, 15 min) %s." % (
                     cv, pv, result["date"][:10], m["cpu"], m["cpus"],
                     m["platform"], load))
    lines.append("")
    lines.append("Each cell: median [min - max] over the runs. The last column "
                 "is the Python figure over cfut's, computed run by run "
                 "(median [min - max]): above 1, cfut is faster.")
    for sec in SECTIONS:
        mine, peer, title, _ = sec
        rows = rows_of(result, sec)
        if not rows:
            continue
        runs = len(result["summary"].get(mine, {}).get("w1_ns_per_task", {})
                   .get("runs", []))
        lines += ["", "### %s" % title, "",
                  "%d runs of each, interleaved." % runs, "",
                  "| figure | cfut | Python | Python / cfut |",
                  "| --- | --- | --- | --- |"]
        for label, c, p, r in rows:
            lines.append("| %s | %s | %s | %s |" % (label, c, p, r))
        ns = notes(result, mine, peer)
        if ns:
            lines.append("")
            lines += ["- %s." % (n[0].upper() + n[1:]) for n in ns]
    agree = result.get("checksums_agree", {})
    if agree:
        lines += ["", "Checksums agree between the implementations: " +
                  ", ".join("%s %s" % (k.split("_")[0].upper(),
                                       "yes" if v else "**NO**")
                            for k, v in agree.items()) + "."]
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
