#!/usr/bin/python3 -I
"""The timed part of bench/reload.sh, and its report.

    reload_bench.py run --url URL --work DIR --trigger FILE --version-file FILE --reloads N ...
    reload_bench.py report RESULTS_DIR

`run` drives one server that bench/reload.sh started: it starts wrk (keep-alive load), and while
wrk runs it touches the trigger every --interval seconds, --reloads times (after writing a new
version into the app's VERSION_FILE), with a light prober that opens a new connection every
--probe-ms ms and records which version (and pid) answered. After the last reload + --interval
it stops wrk with SIGINT, which prints its summary. With --reloads 0 it is the baseline: the
same length, the same prober, no touches. It saves DIR/wrk.txt and DIR/probes.json.

`report` prints the table from RESULTS_DIR/<server>/<mode>/ (mode: baseline plain lazy chain).
"""
import argparse
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script's dir out
import report  # noqa: E402  (the wrk output parser and the file reader bench/run.sh's report uses)

MODES = ["baseline", "plain", "lazy", "chain"]
SERVERS = ["vassal", "uwsgi"]
BODY = re.compile(r"^version (\S+) pid (\d+)")


# ---- run ----------------------------------------------------------------------------------------

def probe(host, port, timeout, t_base, out, lock):
    t0 = time.monotonic()
    rec = {"t0": t0 - t_base}
    try:
        c = http.client.HTTPConnection(host, port, timeout=timeout)
        c.request("GET", "/", headers={"Connection": "close"})
        r = c.getresponse()
        body = r.read().decode("latin-1")
        c.close()
        rec["status"] = r.status
        m = BODY.match(body)
        if r.status != 200:
            rec["error"] = "HTTP %d" % r.status
        elif not m:
            rec["error"] = "unexpected body %r" % body[:60]
        else:
            rec["version"], rec["pid"] = m.group(1), int(m.group(2))
    except Exception as e:  # refused, reset, timeout, ...
        rec["error"] = type(e).__name__ + (": %s" % e if str(e) else "")
    rec["t1"] = time.monotonic() - t_base
    with lock:
        out.append(rec)


FOREIGN = re.compile(r"^(\S*/)?(wrk|ab)\x00|bench/(emperor|run|reload)\.sh|tests/integration/")


def foreign_load(own):
    """Other load generators, benches and test runs on the machine now (not ours)."""
    found = {}
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) in own:
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().decode("latin-1")
        except OSError:
            continue
        if FOREIGN.search(cmd):
            found[int(d)] = cmd.replace("\x00", " ").strip()[:100]
    return found


def write_version(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(value + "\n")
    os.replace(tmp, path)  # an import never reads a half-written file


def cmd_run(a):
    host, port = re.match(r"http://([^:/]+):(\d+)/", a.url).groups()
    port = int(port)
    os.makedirs(a.work, exist_ok=True)
    length = a.lead + a.reloads_for_length * a.interval + a.interval
    probes, lock = [], threading.Lock()
    touches = []
    wrk_cmd = ["wrk", "-t%d" % a.wrk_threads, "-c%d" % a.connections, "-d%ds" % (int(length) + 600),
               "--timeout", a.wrk_timeout, "--latency", a.url]
    with open(os.path.join(a.work, "wrk-cmd.txt"), "w") as f:
        f.write(" ".join(wrk_cmd) + "\n")
    wrk_out = open(os.path.join(a.work, "wrk.txt"), "w")
    t_base = time.monotonic()
    wrk = subprocess.Popen(wrk_cmd, stdout=wrk_out, stderr=subprocess.STDOUT)

    stop = threading.Event()

    def prober():
        n = 0
        while not stop.is_set():
            threading.Thread(target=probe, args=(host, port, a.probe_timeout, t_base, probes, lock),
                             daemon=True).start()
            n += 1
            delay = t_base + n * a.probe_ms / 1000.0 - time.monotonic()
            if delay > 0:
                stop.wait(delay)

    pt = threading.Thread(target=prober, daemon=True)
    pt.start()

    # Who else loads the machine during the run (our own script and its parents excluded)?
    own = {os.getpid(), wrk.pid}
    p = os.getppid()
    while p > 1:
        own.add(p)
        try:
            with open("/proc/%d/stat" % p) as f:
                p = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    others = {}

    def watcher():
        while not stop.wait(1.0):
            others.update(foreign_load(own))

    wt = threading.Thread(target=watcher, daemon=True)
    wt.start()

    def sleep_until(t):
        d = t_base + t - time.monotonic()
        if d > 0:
            time.sleep(d)

    interrupted = False
    try:
        for i in range(1, a.reloads + 1):
            due = a.lead + (i - 1) * a.interval
            sleep_until(due)
            version = "%s%d" % (a.tag, i)
            write_version(a.version_file, version)
            os.utime(a.trigger, None)  # = touch
            touches.append({"i": i, "version": version, "t": time.monotonic() - t_base, "due": due})
        sleep_until(length)
    except KeyboardInterrupt:
        interrupted = True
    t_stop = time.monotonic() - t_base
    wrk.send_signal(signal.SIGINT)
    try:
        rc = wrk.wait(timeout=60)
    except subprocess.TimeoutExpired:
        wrk.kill()
        rc = wrk.wait()
    stop.set()
    pt.join()
    wt.join()
    time.sleep(a.probe_timeout + 0.5)  # the last probes finish or time out
    wrk_out.close()
    with lock:
        samples = sorted(probes, key=lambda r: r["t0"])
    res = {"url": a.url, "reloads": a.reloads, "interval": a.interval, "lead": a.lead,
           "length": length, "wrk_stopped_at": t_stop, "wrk_exit": rc, "wrk_cmd": wrk_cmd,
           "probe_ms": a.probe_ms, "probe_timeout": a.probe_timeout, "touches": touches,
           "probes": samples, "interrupted": interrupted,
           "others_seen": ["%d %s" % kv for kv in sorted(others.items())]}
    res["summary"] = judge(res)
    with open(os.path.join(a.work, "probes.json"), "w") as f:
        json.dump(res, f, indent=1)
    s = res["summary"]
    print("%d/%d reloads completed, %d probe errors, wrk exit %d" %
          (s["completed"], a.reloads, s["probe_errors"], rc))
    return 130 if interrupted else 0


def judge(res):
    """Per reload: did its version answer a probe before the next touch (interval s)?"""
    probes, touches, iv = res["probes"], res["touches"], res["interval"]
    per = []
    order = {tc["version"]: tc["i"] for tc in touches}  # the version before the first touch: 0
    for tc in touches:
        t, v = tc["t"], tc["version"]
        ok = [p for p in probes if p.get("version") == v]
        first = min((p["t1"] for p in ok), default=None)
        window = [p for p in probes if t <= p["t0"] < t + iv]
        # After the first answer of the new version, did the old code still answer (a chain
        # replaces workers one at a time; a graceful reload should not mix)?
        old_after = [p for p in window if "version" in p and order.get(p["version"], 0) < tc["i"]
                     and first is not None and p["t0"] >= first]
        last_old = max((p["t1"] for p in old_after), default=None)
        per.append({"i": tc["i"], "version": v,
                    "new_after": None if first is None else round(first - t, 4),
                    "completed": first is not None and first - t <= iv,
                    "old_after_new": len(old_after),
                    "old_until": None if last_old is None else round(last_old - first, 4),
                    "probe_errors": sum(1 for p in window if "error" in p)})
    errs = [p for p in probes if "error" in p]
    kinds = {}
    for p in errs:
        k = re.sub(r"\d+", "N", p["error"])[:80]
        kinds[k] = kinds.get(k, 0) + 1
    lat = sorted(p["t1"] - p["t0"] for p in probes if "error" not in p)
    return {"per_reload": per, "completed": sum(1 for r in per if r["completed"]),
            "probes": len(probes), "probe_errors": len(errs), "probe_error_kinds": kinds,
            "probe_p99_ms": round(1000 * lat[int(0.99 * (len(lat) - 1))], 2) if lat else None,
            "probe_max_ms": round(1000 * lat[-1], 2) if lat else None}


# ---- report -------------------------------------------------------------------------------------

def parse_wrk(text):
    """report.py's parse of wrk's output, with the failures summed."""
    r = report.parse_wrk(text)
    r["failed"] = sum(r["err"]) + r["non2xx"]
    return r


read = report.read


def fmt_ms(v):
    if v is None:
        return "-"
    if v >= 1000:
        return "%.2fs" % (v / 1000)
    return "%.2fms" % v if v < 100 else "%.0fms" % v


def fmt_failed(w):
    if not w:
        return "-"
    names = ("connect", "read", "write", "timeout")
    parts = ["%s %d" % (n, x) for n, x in zip(names, w["err"]) if x]
    if w["non2xx"]:
        parts.append("non2xx %d" % w["non2xx"])
    return "0" if not parts else "%d (%s)" % (w["failed"], ", ".join(parts))


# Log lines that deserve a look; uWSGI's start-up chatter, root warnings and the normal lines of
# its reloads and stop are left out.
NOTABLE = re.compile(r"kill|error|fail|crash|segfault|signal|refused|warning|traceback|exception|"
                     r"full|timeout|mercy|respawn|cannot|lost|already running|busy", re.I)
NOISE = re.compile(r"running uWSGI as root|uWSGI running as root|no internal routing|thunder.lock|"
                   r"^detected |^your |^mapped \d+ bytes|Operational MODE|WSGI app \d+ \(mountpoint|"
                   r"gracefully killing workers|Gracefully killing worker|buried after|"
                   r"has been touched\.\.\. (grace them all|chain reload) !!!|chain next victim|"
                   r"binary reloading|SIGINT/SIGTERM received\.\.\.killing workers|"
                   r"closing all non-uwsgi socket fds|gracefully \(RE\)spawned|"
                   r"worker \d+ killed successfully|Respawned uWSGI worker", re.I)
TOUCHED = re.compile(r"' touched$|has been touched\.\.\.")


def notable_lines(text):
    counts, first = {}, {}
    for ln in text.splitlines():
        bare = re.sub(r"(?<!\w)/[^\s']*", "PATH", ln)  # a path of ours may hold a word like "full"
        if NOTABLE.search(bare) and not NOISE.search(bare):
            k = re.sub(r"\d+", "N", ln.strip())
            counts[k] = counts.get(k, 0) + 1
            first.setdefault(k, ln.strip())
    return [(counts[k], first[k]) for k in sorted(counts, key=lambda k: -counts[k])]


def cmd_report(a):
    root = a.results
    rows = []
    for s in SERVERS:
        for mode in MODES:
            d = os.path.join(root, s, mode)
            if not os.path.isdir(d):
                continue
            w = parse_wrk(read(os.path.join(d, "wrk.txt")))
            try:
                with open(os.path.join(d, "probes.json")) as f:
                    pj = json.load(f)
                pj["summary"] = judge(pj)  # this report's judgement, not the run's
            except (OSError, ValueError):
                pj = None
            rows.append({"server": s, "mode": mode, "dir": d, "wrk": w, "pj": pj,
                         "meta": read(os.path.join(d, "meta.txt")),
                         "log": read(os.path.join(d, "server.log"))})
    if not rows:
        print("no results in %s" % root)
        return 1
    base = {r["server"]: r["wrk"] for r in rows if r["mode"] == "baseline"}

    print()
    cfg = read(os.path.join(root, "config.txt"))
    m = re.search(r"^reloads: .*$", cfg, re.M)
    if m:
        print(m.group(0))
    hdr = ("server", "mode", "requests", "req/s", "failed (wrk)", "p99", "max", "p99/base",
           "reloads done", "new code in", "probe err", "probe max")
    fmt = "%-7s %-8s %9s %8s %-30s %8s %8s %8s %12s %11s %9s %9s"
    print(fmt % hdr)
    for r in rows:
        w, pj = r["wrk"], r["pj"]
        b = base.get(r["server"], {})
        s = pj["summary"] if pj else None
        ratio = "-"
        if w.get("p99") and b.get("p99") and r["mode"] != "baseline":
            ratio = "%.1fx" % (w["p99"] / b["p99"])
        done = newin = "-"
        if s and pj["reloads"]:
            done = "%d/%d" % (s["completed"], pj["reloads"])
            ts = sorted(x["new_after"] for x in s["per_reload"] if x["new_after"] is not None)
            if ts:
                newin = fmt_ms(1000 * ts[len(ts) // 2])
        print(fmt % (r["server"], r["mode"], "{:,}".format(w["requests"]) if "requests" in w else "-",
                     "{:,.0f}".format(w["rps"]) if "rps" in w else "-", fmt_failed(w),
                     fmt_ms(w.get("p99")), fmt_ms(w.get("max")), ratio, done, newin,
                     "%d/%d" % (s["probe_errors"], s["probes"]) if s else "-",
                     fmt_ms(s.get("probe_max_ms")) if s else "-"))
    print("(p99, max: wrk's, keep-alive. p99/base: p99 during reloads / the server's baseline "
          "p99. new code in:\n median time from a touch to the first probe answered by the new "
          "version; a reload is done\n when that happens before the next touch. probe: a new "
          "connection every %s ms; its failures and\n slowest answer, connect included.)" %
          (rows[0]["pj"] or {}).get("probe_ms", "?"))

    # Ratios vassal / uWSGI per mode.
    by = {(r["server"], r["mode"]): r["wrk"] for r in rows}
    lines = []
    for mode in MODES:
        v, u = by.get(("vassal", mode)), by.get(("uwsgi", mode))
        if v and u and v.get("rps") and u.get("rps"):
            lines.append("  %-8s req/s %.2fx   p99 %s   max %s" % (
                mode, v["rps"] / u["rps"],
                "%.3fx" % (v["p99"] / u["p99"]) if v.get("p99") and u.get("p99") else "-",
                "%.3fx" % (v["max"] / u["max"]) if v.get("max") and u.get("max") else "-"))
    if lines:
        print("\nvassal / uWSGI   (req/s: >1 means vassal is faster; p99, max: <1 means vassal "
              "is faster)")
        print("\n".join(lines))

    # The targets, for the reload modes.
    print("\ntargets (the issue): zero failed, every reload completes, p99 during reloads "
          "<= 2x p99 without, max < 50 ms")
    print("  (uWSGI there: drops nothing but stalls: p99 ~1 s vs 1.6 ms without reloads, 1 of 7 "
          "reloads completes)")
    for r in rows:
        if r["mode"] == "baseline":
            continue
        w, pj = r["wrk"], r["pj"]
        b = base.get(r["server"], {})
        s = pj["summary"] if pj else {"completed": 0, "probe_errors": 0}
        n = pj["reloads"] if pj else 0
        res = []
        if r["server"] == "uwsgi" and b and b["err"][1] and w["err"][1]:
            # uWSGI's http-socket closes after every response: wrk counts read errors in the
            # baseline too. Judge it on the rest (and on the prober).
            other = w["failed"] - w["err"][1]
            res.append("failed %s (read errors not counted: %.2f/request, baseline %.2f)" % (
                "ok" if other + s["probe_errors"] == 0 else "FAIL %d" % (other + s["probe_errors"]),
                w["err"][1] / max(1, w.get("requests", 1)),
                b["err"][1] / max(1, b.get("requests", 1))))
        else:
            f = w.get("failed", 0) + s["probe_errors"]
            res.append("failed %s" % ("ok" if f == 0 and "requests" in w else "FAIL %d" % f))
        res.append("reloads %s" % ("ok" if n and s["completed"] == n else
                                   "FAIL %d/%d" % (s["completed"], n)))
        if w.get("p99") and b.get("p99"):
            q = w["p99"] / b["p99"]
            res.append("p99 %s" % ("ok" if q <= 2 else "FAIL %.1fx" % q))
        else:
            res.append("p99 -")
        mx = w.get("max")
        res.append("max %s" % ("-" if mx is None else "ok" if mx < 50 else "FAIL " + fmt_ms(mx)))
        print("  %-7s %-6s %s" % (r["server"], r["mode"], "; ".join(res)))

    # Notes: what deserves a look.
    notes = []
    for r in rows:
        tag = "%s %s" % (r["server"], r["mode"])
        pj = r["pj"]
        if not pj:
            notes.append("%s: no probes.json (did the run fail? see %s/meta.txt)" % (tag, r["dir"]))
        else:
            s = pj["summary"]
            missed = [x for x in s["per_reload"] if not x["completed"]]
            for x in missed:
                notes.append("%s: reload %d did not complete within %gs (new code %s)" % (
                    tag, x["i"], pj["interval"],
                    "never answered" if x["new_after"] is None else
                    "answered after %.2fs" % x["new_after"]))
            seen = pj.get("others_seen") or []
            if seen:
                notes.append("%s: other load on the machine during the run (%d processes): %s" % (
                    tag, len(seen), "; ".join(seen[:3]) + (" ..." if len(seen) > 3 else "")))
            late = [tc["t"] - tc["due"] for tc in pj["touches"] if "due" in tc]
            if late and max(late) > 0.1:
                notes.append("%s: touches came up to %.0f ms late (%d over 100 ms): this bench was "
                             "starved of CPU, the machine was busy" % (
                                 tag, 1000 * max(late), sum(1 for x in late if x > 0.1)))
            mixed = [x for x in s["per_reload"] if x["old_after_new"]]
            if mixed:
                notes.append("%s: in %d reloads the old code still answered after the new one "
                             "(%d probes, up to %.0f ms after the new code's first answer)" % (
                                 tag, len(mixed), sum(x["old_after_new"] for x in mixed),
                                 1000 * max(x.get("old_until") or 0 for x in mixed)))
            for k, c in sorted(s["probe_error_kinds"].items(), key=lambda kv: -kv[1]):
                notes.append("%s: probe errors: %d x %s" % (tag, c, k))
            if pj.get("wrk_exit"):
                notes.append("%s: wrk exited with status %s" % (tag, pj["wrk_exit"]))
        for ln in r["meta"].splitlines():
            if re.search(r"FAIL|NOT|outlived|SIGKILL|workers after|leftover", ln) and \
                    not re.search(r"workers after: 2$", ln):
                notes.append("%s: %s" % (tag, ln))
        if pj and pj["reloads"]:
            seen = sum(1 for ln in r["log"].splitlines() if TOUCHED.search(ln))
            if seen != pj["reloads"]:
                notes.append("%s: the server logged %d touches of %d" % (tag, seen, pj["reloads"]))
        for c, ln in notable_lines(r["log"])[:6]:
            notes.append("%s: log %dx: %s" % (tag, c, ln[:150]))
    if notes:
        print("\nnotes:")
        for n in notes:
            print("  " + n)
    print("\nresults: %s" % root)
    return 0


def cmd_runs(a):
    """Across RUNS interleaved runs (root/runN/SERVER/MODE): per server and mode, p99 during
    reloads against that run's own baseline, as the median of the runs with min and max, the
    worst max latency, failures and reloads done, judged against the issue's targets."""
    root = a.results
    runs = sorted((d for d in os.listdir(root) if re.fullmatch(r"run\d+", d)),
                  key=lambda d: int(d[3:]))
    if not runs:
        print("no runs in %s" % root)
        return 1
    print("\n%d interleaved runs (each with its own baseline); p99/base: median [min-max]" % len(runs))
    fmt = "%-7s %-8s %22s %26s %10s %9s %8s"
    print(fmt % ("server", "mode", "p99 median [min-max]", "p99/base median [min-max]",
                 "worst max", "failed", "reloads"))
    verdicts = []
    for s in SERVERS:
        for mode in MODES:
            p99s, ratios, maxes, failed, done, total = [], [], [], 0, 0, 0
            for run in runs:
                d = os.path.join(root, run, s, mode)
                if not os.path.isdir(d):
                    continue
                w = parse_wrk(read(os.path.join(d, "wrk.txt")))
                b = parse_wrk(read(os.path.join(root, run, s, "baseline", "wrk.txt")))
                if w.get("p99"):
                    p99s.append(w["p99"])
                    if b.get("p99") and mode != "baseline":
                        ratios.append(w["p99"] / b["p99"])
                if w.get("max"):
                    maxes.append(w["max"])
                # A server that closes every connection (uWSGI's http-socket) makes wrk count a
                # read error per request, baseline too: those are not failures.
                closes = b.get("requests") and b["err"][1] >= 0.5 * b["requests"]
                failed += w.get("failed", 0) - (w["err"][1] if closes and "err" in w else 0)
                try:
                    with open(os.path.join(d, "probes.json")) as f:
                        pj = json.load(f)
                    if pj["reloads"]:
                        done += judge(pj)["completed"]
                        total += pj["reloads"]
                except (OSError, ValueError, KeyError):
                    pass
            if not p99s:
                continue
            med = lambda v: sorted(v)[len(v) // 2] if len(v) % 2 else sum(sorted(v)[len(v) // 2 - 1:len(v) // 2 + 1]) / 2
            ratio = "-" if not ratios else "%.1fx [%.1f-%.1f]" % (med(ratios), min(ratios), max(ratios))
            print(fmt % (s, mode, "%s [%s-%s]" % (fmt_ms(med(p99s)), fmt_ms(min(p99s)),
                                                 fmt_ms(max(p99s))),
                         ratio, fmt_ms(max(maxes)) if maxes else "-", failed,
                         "%d/%d" % (done, total) if total else "-"))
            if mode != "baseline" and ratios:
                verdicts.append("  %-7s %-6s failed %s; reloads %s; p99 %s %.1fx (median); max %s %s" % (
                    s, mode, "ok" if failed == 0 else "FAIL %d" % failed,
                    "ok" if done == total else "FAIL %d/%d" % (done, total),
                    "ok" if med(ratios) <= 2 else "FAIL", med(ratios),
                    "ok" if maxes and max(maxes) < 50 else "FAIL",
                    fmt_ms(max(maxes)) if maxes else "-"))
    print("\ntargets (the issue): zero failed, every reload completes, p99 during reloads <= 2x"
          " p99 without, max < 50 ms")
    for v in verdicts:
        print(v)
    print("\nresults: %s" % root)
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--url", required=True)
    r.add_argument("--work", required=True)
    r.add_argument("--trigger", required=True)
    r.add_argument("--version-file", required=True)
    r.add_argument("--tag", default="v")
    r.add_argument("--reloads", type=int, default=20)
    r.add_argument("--length-reloads", dest="reloads_for_length", type=int, default=20,
                   help="the run lasts lead + this many intervals + one interval")
    r.add_argument("--interval", type=float, default=2.0)
    r.add_argument("--lead", type=float, default=1.0)
    r.add_argument("--wrk-threads", type=int, default=2)
    r.add_argument("--connections", type=int, default=50)
    r.add_argument("--wrk-timeout", default="2s")
    r.add_argument("--probe-ms", type=int, default=50)
    r.add_argument("--probe-timeout", type=float, default=2.0)
    p = sub.add_parser("report")
    p.add_argument("results")
    p = sub.add_parser("runs")
    p.add_argument("results")
    a = ap.parse_args()
    return {"run": cmd_run, "report": cmd_report, "runs": cmd_runs}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
