#!/usr/bin/python3 -I
"""Prints the comparison table from the raw outputs bench/run.sh saved.

    /usr/bin/python3 bench/report.py RESULTS_DIR

RESULTS_DIR/<pass>/<server>/run<N>/{wrk.txt,ab.txt,meta.txt,server.log[.gz],cmd.txt}; <pass> is
"nolog" (request logging off on every server) or "logging". With several runs each number is the
median over the runs; the per-run values follow the table.
"""
import gzip
import os
import re
import statistics
import sys

ORDER = ["vassal", "uwsgi", "gunicorn-gthread", "gunicorn-sync"]
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def to_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    return float(m.group(1)) * UNITS_MS[m.group(2)] if m else None


def read(path):
    for p, opener in ((path, open), (path + ".gz", gzip.open)):
        if os.path.exists(p):
            with opener(p, "rt", errors="replace") as f:
                return f.read()
    return ""


def parse_wrk(text):
    r = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        r["rps"] = float(m.group(1))
    m = re.search(r"Latency Distribution(.*?)\n\s*\d+ requests in", text, re.S)
    if m:
        p = re.search(r"^\s*99%\s+(\S+)", m.group(1), re.M)
        if p:
            r["p99"] = to_ms(p.group(1))
    m = re.search(r"^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)", text, re.M)
    if m:
        r["max"] = to_ms(m.group(3))
    m = re.search(r"(\d+) requests in", text)
    if m:
        r["requests"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    r["err"] = tuple(int(x) for x in m.groups()) if m else (0, 0, 0, 0)
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    r["non2xx"] = int(m.group(1)) if m else 0
    return r


def parse_ab(text):
    r = {}
    m = re.search(r"Requests per second:\s+([\d.]+)", text)
    if m:
        r["rps"] = float(m.group(1))
    m = re.search(r"^\s*99%\s+(\d+)", text, re.M)
    if m:
        r["p99"] = float(m.group(1))
    m = re.search(r"^\s*100%\s+(\d+)", text, re.M)
    if m:
        r["max"] = float(m.group(1))
    m = re.search(r"Complete requests:\s+(\d+)", text)
    if m:
        r["complete"] = int(m.group(1))
    m = re.search(r"Failed requests:\s+(\d+)", text)
    if m:
        r["failed"] = int(m.group(1))
    m = re.search(r"\(Connect: (\d+), Receive: (\d+), Length: (\d+), Exceptions: (\d+)\)", text)
    if m:
        r["failed_kinds"] = m.group(0)
    m = re.search(r"Non-2xx responses:\s+(\d+)", text)
    r["non2xx"] = int(m.group(1)) if m else 0
    if "rps" not in r:
        errs = [ln for ln in text.splitlines() if re.search(r"apr_|error|Error|Terminated", ln)]
        r["aborted"] = errs[-1].strip() if errs else "no result"
    return r


def parse_meta(text):
    r = {"raw": text, "start_failed": "start: FAILED" in text}
    for tool in ("wrk", "ab"):
        m = re.search(tool + r": exit (\d+); listen overflows/drops before (\d+) (\d+) after (\d+) (\d+)", text)
        if m:
            r[tool + "_exit"] = int(m.group(1))
            r[tool + "_overflows"] = int(m.group(4)) - int(m.group(2))
    m = re.search(r"loadavg: (\S+)", text)
    r["load"] = m.group(1) if m else "?"
    m = re.search(r"cpu busy before: (\d+)%", text)
    r["busy"] = m.group(1) + "%" if m else "?"
    return r


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt_rps(v):
    return "-" if v is None else f"{v:,.0f}"


def fmt_ms(v, whole=False):
    if v is None:
        return "-"
    if whole:  # ab reports whole milliseconds
        return f"{v:.0f}ms"
    return f"{v:.2f}ms" if v < 100 else f"{v:.0f}ms"


def fmt_wrk_err(err, non2xx):
    if err is None:
        return "-"
    parts = [f"{k}{int(v)}" for k, v in zip(("connect ", "read ", "write ", "timeout "), err) if v]
    if non2xx:
        parts.append(f"non2xx {int(non2xx)}")
    return ", ".join(parts) if parts else "0"


def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def table(rows, header):
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                               for i, (c, w) in enumerate(zip(r, widths)))
    out = [line(header), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out)


def report_pass(base, pass_name, config):
    pdir = os.path.join(base, pass_name)
    servers = [s for s in config.get("servers", " ".join(ORDER)).split() if os.path.isdir(os.path.join(pdir, s))]
    runs, summary, notes = {}, {}, []
    for s in servers:
        sdir = os.path.join(pdir, s)
        rdirs = sorted((d for d in os.listdir(sdir) if re.fullmatch(r"run\d+", d)), key=lambda d: int(d[3:]))
        runs[s] = []
        for d in rdirs:
            rd = os.path.join(sdir, d)
            meta = parse_meta(read(os.path.join(rd, "meta.txt")))
            run = {"dir": rd, "meta": meta,
                   "wrk": parse_wrk(read(os.path.join(rd, "wrk.txt"))) if not meta["start_failed"] else {},
                   "ab": parse_ab(read(os.path.join(rd, "ab.txt"))) if not meta["start_failed"] else {},
                   "log": read(os.path.join(rd, "server.log"))}
            runs[s].append(run)
        ok = [r for r in runs[s] if not r["meta"]["start_failed"]]
        w = [r["wrk"] for r in ok]
        a = [r["ab"] for r in ok]
        summary[s] = {
            "n": len(ok), "of": len(runs[s]),
            "wrk_rps": med(x.get("rps") for x in w), "wrk_p99": med(x.get("p99") for x in w),
            "wrk_max": med(x.get("max") for x in w),
            "wrk_err": tuple(med(x["err"][i] for x in w) for i in range(4)) if w else None,
            "wrk_non2xx": med(x["non2xx"] for x in w) if w else 0,
            "ab_rps": med(x.get("rps") for x in a), "ab_p99": med(x.get("p99") for x in a),
            "ab_max": med(x.get("max") for x in a),
            "ab_failed": med(x.get("failed") for x in a), "ab_non2xx": med(x["non2xx"] for x in a) if a else 0,
        }

        # Things worth a sentence.
        for r in runs[s]:
            m, tag = r["meta"], f"{s} {os.path.basename(r['dir'])}"
            if m["start_failed"]:
                notes.append(f"{tag}: FAILED TO START: " + next(
                    (ln for ln in m["raw"].splitlines() if "start: FAILED" in ln), ""))
                continue
            for ln in m["raw"].splitlines():
                if ln.startswith("stop: FAILED") or "outlived" in ln or ln.startswith("after: NOT"):
                    notes.append(f"{tag}: {ln}")
            wr, ab = r["wrk"], r["ab"]
            c, rd, wr_, to = wr.get("err", (0, 0, 0, 0))
            if wr.get("requests") and rd >= 0.9 * wr["requests"]:
                notes.append(f"{tag}: wrk read errors {rd} ~ requests {wr['requests']}: the server closes the "
                             "connection after every response (no keep-alive), so wrk reconnects per request")
            elif c or rd or wr_ or to:
                notes.append(f"{tag}: wrk socket errors: connect {c}, read {rd}, write {wr_}, timeout {to}"
                             f" (of {wr.get('requests')} requests)")
            if wr.get("non2xx"):
                notes.append(f"{tag}: wrk non-2xx/3xx responses: {wr['non2xx']}")
            if m.get("wrk_exit"):
                notes.append(f"{tag}: wrk exit status {m['wrk_exit']}")
            if "aborted" in ab:
                notes.append(f"{tag}: ab ABORTED (exit {m.get('ab_exit')}): {ab['aborted']}")
            else:
                if ab.get("failed"):
                    notes.append(f"{tag}: ab failed requests {ab['failed']} {ab.get('failed_kinds', '')}")
                if ab.get("non2xx"):
                    notes.append(f"{tag}: ab non-2xx responses {ab['non2xx']}")
                if ab.get("max", 0) >= 200 and m.get("ab_overflows"):
                    notes.append(f"{tag}: ab longest request {ab['max']:.0f} ms, p99 {ab.get('p99', 0):.0f} ms"
                                 f" (listen queue overflows during ab: {m.get('ab_overflows', '?')};"
                                 " a full accept queue makes the client retransmit after 200 ms, 400 ms, 1 s...)")
                elif m.get("ab_overflows"):
                    notes.append(f"{tag}: listen queue overflowed {m['ab_overflows']} times during ab"
                                 f" (longest request {ab.get('max', 0):.0f} ms)")
            if m.get("wrk_overflows"):
                notes.append(f"{tag}: listen queue overflowed {m['wrk_overflows']} times during wrk")
            full = len(re.findall(r"listen queue of socket .* full", r["log"]))
            if full:
                notes.append(f"{tag}: server log: {full} x 'listen queue of socket ... full'")
            bad = [ln for ln in r["log"].splitlines()
                   if re.search(r"exited with status [1-9]|killed|signal \d|Traceback|segfault|"
                                r"\berror\b|\bfail|CRITICAL|WORKER TIMEOUT|DAMN|Sanitizer", ln, re.I)]
            if bad:
                notes.append(f"{tag}: server log ({len(bad)} line(s)): " + " | ".join(bad[:5])
                             + (" ..." if len(bad) > 5 else ""))

    title = {"nolog": "request logging OFF on every server", "logging": "request logging ON on every server"}
    print(f"\n=== {pass_name}: {title.get(pass_name, '')}; "
          f"{config.get('processes', '?')} processes x {config.get('threads', '?')} threads; "
          f"median of {config.get('runs', '?')} run(s) ===")
    print(f"wrk {config.get('wrk', '')} (keep-alive)    ab {config.get('ab', '')} (no keep-alive)\n")
    header = ["server", "wrk req/s", "wrk p99", "wrk max", "wrk errors", "ab req/s", "ab p99", "ab failed"]
    rows = []
    for s in servers:
        x = summary[s]
        name = s + ("" if x["n"] == x["of"] else f" ({x['n']}/{x['of']} started)")
        if s == "gunicorn-sync":
            name += " (x1 thr)"
        if not x["n"]:
            rows.append([name] + ["FAILED TO START"] + [""] * 6)
            continue
        abf = "-" if x["ab_failed"] is None else f"{x['ab_failed']:.0f}"
        if x["ab_non2xx"]:
            abf += f" +{x['ab_non2xx']:.0f} non2xx"
        rows.append([name, fmt_rps(x["wrk_rps"]), fmt_ms(x["wrk_p99"]), fmt_ms(x["wrk_max"]),
                     fmt_wrk_err(x["wrk_err"], x["wrk_non2xx"]), fmt_rps(x["ab_rps"]),
                     fmt_ms(x["ab_p99"], True), abf])
    print(table(rows, header))

    if "vassal" in summary and summary["vassal"]["n"]:
        v = summary["vassal"]
        print("\nvassal / peer   (req/s: >1 means vassal is faster; p99: <1 means vassal is faster)\n")
        rows = []
        for s in servers:
            if s == "vassal" or not summary[s]["n"]:
                continue
            p = summary[s]
            rows.append([s, fmt_ratio(v["wrk_rps"], p["wrk_rps"]), fmt_ratio(v["wrk_p99"], p["wrk_p99"]),
                         fmt_ratio(v["ab_rps"], p["ab_rps"]), fmt_ratio(v["ab_p99"], p["ab_p99"])])
        if rows:
            print(table(rows, ["vs", "wrk req/s", "wrk p99", "ab req/s", "ab p99"]))

    if any(len(runs[s]) > 1 for s in servers):
        print("\nper run (wrk req/s | wrk p99 | ab req/s | ab p99 | cpu busy in the second before, from others):")
        for s in servers:
            cells = []
            for r in runs[s]:
                if r["meta"]["start_failed"]:
                    cells.append("start failed")
                    continue
                cells.append(f"{fmt_rps(r['wrk'].get('rps'))} | {fmt_ms(r['wrk'].get('p99'))} | "
                             f"{fmt_rps(r['ab'].get('rps'))} | {fmt_ms(r['ab'].get('p99'), True)} | {r['meta']['busy']}")
            print(f"  {s:17} " + "  ;  ".join(cells))

    if notes:
        print("\nnotes:")
        for n in notes:
            print("  - " + n)
    return summary


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    base = sys.argv[1]
    config = {}
    for ln in read(os.path.join(base, "config.txt")).splitlines():
        k, _, v = ln.partition(": ")
        config[k] = v
    print(f"bench results: {base}")
    for k in ("date", "git", "vassal binary", "host", "versions"):
        if k in config:
            print(f"  {k}: {config[k]}")
    passes = [p for p in ("nolog", "logging") if os.path.isdir(os.path.join(base, p))]
    if not passes:
        sys.exit(f"no results under {base}")
    for p in passes:
        report_pass(base, p, config)


if __name__ == "__main__":
    main()
