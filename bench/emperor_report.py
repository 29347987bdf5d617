#!/usr/bin/python3 -I
"""Prints the emperor vs `uwsgi --emperor` table from what bench/emperor.sh saved.

    /usr/bin/python3 bench/emperor_report.py RESULTS_DIR

RESULTS_DIR/<kind>/results.json, <kind> = emperor (ours) or uwsgi, written by
bench/emperor_bench.py. Ratios are ours / uWSGI's: every number here is better lower.
"""
import json
import os
import statistics
import sys

KINDS = [("emperor", "emperor"), ("uwsgi", "uwsgi --emperor")]


def load(results, kind):
    try:
        with open(os.path.join(results, kind, "results.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def fmt_ms(v):
    if v is None:
        return "-"
    if v >= 1000:
        return f"{v / 1000:.2f} s"
    return f"{v:.0f} ms" if v >= 100 else f"{v:.1f} ms"


def fmt_range(median, lo, hi):
    """min-max in the median's unit, without repeating it."""
    if median >= 1000:
        return f"{lo / 1000:.2f}-{hi / 1000:.2f}"
    return f"{lo:.0f}-{hi:.0f}"


def fmt_kb(v):
    return "-" if v is None else f"{v / 1024:.1f} MiB"


def med(values):
    v = [x for x in values or [] if x is not None]
    return (statistics.median(v), min(v), max(v), len(v)) if v else None


def dig(r, *path):
    for k in path:
        if r is None:
            return None
        if isinstance(k, int):
            r = r[k] if isinstance(r, list) and len(r) > k else None
        else:
            r = r.get(k) if isinstance(r, dict) else None
    return r


def rows(r):
    """{row name: (number for the ratio, text)} for one emperor."""
    out = {}
    if r is None:
        return out

    def series(name, values, total):
        m = med(values)
        if m is None:
            out[name] = (None, "FAILED" if total else "-")
            return
        text = f"{fmt_ms(m[0])} ({fmt_range(m[0], m[1], m[2])})"
        if m[3] < total:
            text += f" {total - m[3]} FAILED"
        out[name] = (m[0], text)

    s = r.get("start") or {}
    series("first", s.get("first_200_ms"), len(s.get("first_200_ms") or []))
    series("closed_after_start", s.get("closed_after_rm_ms"), len(s.get("closed_after_rm_ms") or []))
    rl = r.get("reload") or {}
    series("reload", rl.get("ms"), len(rl.get("ms") or []))
    if rl:
        errs = sum((rl.get("errors") or {}).values())
        old = rl.get("old_pid_after_new", 0)
        out["reload_req"] = (None, f"{rl.get('requests', 0)} req, {errs} failed" +
                             (f", {old} old pid" if old else ""))
    st = r.get("stop") or {}
    series("stop", st.get("ms"), len(st.get("ms") or []))
    bursts = r.get("burst") or []
    if bursts:
        n = bursts[0].get("n")
        vals = [b.get("all_ms") for b in bursts]
        ok = [v for v in vals if v is not None]
        text = fmt_ms(statistics.median(ok)) if ok else "FAILED"
        if len(bursts) > 1 and ok:
            text += " (" + " ".join(fmt_ms(v) for v in vals) + ")"
        if len(ok) < len(vals):
            text += f" {len(vals) - len(ok)} run(s) FAILED"
        out["burst"] = (statistics.median(ok) if ok else None, text)
        out["burst_n"] = n
        cl = [b.get("all_closed_ms") for b in bursts if b.get("all_closed_ms") is not None]
        out["burst_closed"] = (statistics.median(cl) if cl else None, fmt_ms(statistics.median(cl)) if cl else "-")
    f = r.get("fleet") or {}
    if f:
        out["fleet_n"] = f.get("n")
        out["rss"] = (f.get("rss_kb"), fmt_kb(f.get("rss_kb")))
        cpu = f.get("cpu_pct")
        out["cpu"] = (cpu, "-" if cpu is None else f"{cpu:.2f}% ({f.get('cpu_s', 0):.2f} s)")
        ns = f.get("cpu_ns")
        out["cpu_ns"] = (ns, "-" if ns is None else f"{ns / 1e6:.1f} ms ({100 * ns / 1e9 / f['idle_s']:.3f}%)")
        out["fleet_up"] = (f.get("all_serving_ms"), fmt_ms(f.get("all_serving_ms")) if f.get("all_serving_ms")
                           else f"{f.get('failed')} FAILED")
        out["hwm"] = (f.get("hwm_kb"), fmt_kb(f.get("hwm_kb")))
        out["procs"] = (f.get("fleet_rss_kb"), f"{f.get('processes')} procs, {fmt_kb(f.get('fleet_rss_kb'))}")
        es = f.get("emperor_stop_s")
        out["estop"] = (None if es is None else es * 1000, fmt_ms(None if es is None else es * 1000) +
                        (f", {f['ports_open_after_stop']} ports left open" if f.get("ports_open_after_stop") else ""))
    out["rss_empty"] = (r.get("rss_kb_empty"), fmt_kb(r.get("rss_kb_empty")))
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: emperor_report.py RESULTS_DIR")
    results = sys.argv[1]
    data = {k: load(results, k) for k, _ in KINDS}
    rr = {k: rows(data[k]) for k, _ in KINDS}
    n_burst = rr["emperor"].get("burst_n") or rr["uwsgi"].get("burst_n") or 50
    n_fleet = rr["emperor"].get("fleet_n") or rr["uwsgi"].get("fleet_n") or 100
    n_rounds = len(dig(data["emperor"], "start", "first_200_ms") or dig(data["uwsgi"], "start", "first_200_ms") or [])
    n_rel = len(dig(data["emperor"], "reload", "ms") or dig(data["uwsgi"], "reload", "ms") or [])
    n_stop = len(dig(data["emperor"], "stop", "ms") or dig(data["uwsgi"], "stop", "ms") or [])
    idle = dig(data["emperor"], "fleet", "idle_s") or dig(data["uwsgi"], "fleet", "idle_s") or 30

    # (key, label, target text, target test on our number)
    main_rows = [
        ("first", f"1. mv ini in -> first 200 (median of {n_rounds})", "< 100 ms  (2.7 s)",
         lambda v: v < 100),
        ("reload", f"2. touch -> new worker pid (median of {n_rel})", "", None),
        ("stop", f"3. rm ini -> port refuses (median of {n_stop})", "< 50 ms   (2.4 s)", lambda v: v < 50),
        ("burst", f"4. {n_burst} inis at once -> all serve 200", "< 2 s     (6.2 s)", lambda v: v < 2000),
        ("rss", f"5. emperor RSS, {n_fleet} idle vassals", "< 5 MiB   (7 MB)", lambda v: v < 5 * 1024),
        ("cpu", f"5. emperor CPU, {n_fleet} idle vassals, {idle:.0f} s", "", None),
    ]
    extra_rows = [
        ("reload_req", "   polling during the reloads"),
        ("closed_after_start", f"   rm 0.3 s after first 200 -> port refuses ({n_rounds})"),
        ("burst_closed", f"   {n_burst} inis removed at once -> all ports refuse"),
        ("cpu_ns", f"   emperor on-CPU time in those {idle:.0f} s (schedstat)"),
        ("fleet_up", f"   {n_fleet} inis at once -> all serve 200"),
        ("hwm", "   emperor peak RSS (VmHWM)"),
        ("rss_empty", "   emperor RSS with no vassal"),
        ("procs", f"   {n_fleet} vassals: processes, their RSS summed"),
        ("estop", f"   emperor stop signal with {n_fleet} vassals -> exit"),
    ]
    w0, w1, w2 = 50, 22, 22
    print()
    print(f"{'measurement':<{w0}} {'emperor':>{w1}} {'uwsgi --emperor':>{w2}} {'ratio':>7}  "
          f"{'target (issue: uWSGI)':<22} ours")
    for key, label, target, test in main_rows:
        a, b = rr["emperor"].get(key, (None, "-")), rr["uwsgi"].get(key, (None, "-"))
        ratio = f"{a[0] / b[0]:.3f}" if a[0] is not None and b[0] else "-"
        verdict = ""
        if test is not None:
            verdict = "-" if a[0] is None else ("met" if test(a[0]) else "MISSED")
        print(f"{label:<{w0}} {a[1]:>{w1}} {b[1]:>{w2}} {ratio:>7}  {target:<22} {verdict}")
    print()
    for key, label in extra_rows:
        a, b = rr["emperor"].get(key, (None, "-")), rr["uwsgi"].get(key, (None, "-"))
        ratio = f"{a[0] / b[0]:.3f}" if a[0] is not None and b[0] else "-"
        print(f"{label:<{w0}} {a[1]:>{w1}} {b[1]:>{w2}} {ratio:>7}")
    print()
    print("ratio = emperor / uwsgi --emperor: lower is better on every row. Times in ms or s, as the median")
    print("(min-max) in the median's unit. The stop target counts from the end of in-flight requests;")
    print("these vassals are idle, so here it counts from the rm.")

    for k, name in KINDS:
        r = data[k]
        if r is None:
            print(f"\n{name}: no results ({os.path.join(results, k, 'results.json')})")
            continue
        loads = {s: dig(r, s, "loadavg") for s in ("start", "reload", "stop")}
        loads["burst"] = dig(r, "burst", 0, "loadavg")
        loads["fleet"] = dig(r, "fleet", "loadavg")
        print(f"\n{name} (pid {r.get('pid')}): loadavg at each step: " +
              ", ".join(f"{s} {v}" for s, v in loads.items() if v is not None))
        busy = r.get("cpu_busy_pct") or {}
        if busy:
            print("  cpu busy during each step (whole machine, this bench included): " +
                  ", ".join(f"{s} {v}%" for s, v in busy.items()))
        errs = dig(r, "start", "errors")
        if errs:
            print(f"  probe errors while starting: {errs}")
        errs = dig(r, "reload", "errors")
        if errs:
            print(f"  failed requests during reloads: {errs}")
        for n in r.get("notes", []):
            print(f"  note: {n}")
        for h in r.get("log", []):
            print(f"  log ({h['count']}x): {h['line']}")


if __name__ == "__main__":
    main()
