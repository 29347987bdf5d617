#!/usr/bin/python3 -I
"""Runs one emperor (ours, or uWSGI's `uwsgi --emperor`) through the measurements of
bench/emperor.sh and saves them as WORK/results.json. Started by bench/emperor.sh, one emperor at a
time; see bench/README.md ("emperor vs uwsgi --emperor") for what is measured and how.

    /usr/bin/python3 -I bench/emperor_bench.py --kind emperor|uwsgi --work DIR [options]

Everything talks to 127.0.0.1 only. The emperor is the only process we start; its vassals are its
business, but any of them still alive after the emperor exited is reported and killed by its pid.
Times come from time.monotonic(); the pollers open a new connection per try.
"""
import argparse
import asyncio
import collections
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
CLK_TCK = os.sysconf("SC_CLK_TCK")
now = time.monotonic


class Interrupted(Exception):
    pass


def on_signal(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


def say(*a):
    print(*a, flush=True)


def ms(seconds):
    return None if seconds is None else round(seconds * 1000.0, 1)


def summary(values):
    v = [x for x in values if x is not None]
    if not v:
        return {"n": 0}
    return {"n": len(v), "median": statistics.median(v), "min": min(v), "max": max(v)}


# ---- /proc ---------------------------------------------------------------------------------------

def proc_stat(pid):
    """(state, ppid, utime+stime ticks, starttime) of a pid, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()  # rest[0] is field 3 (state)
    return rest[0], int(rest[1]), int(rest[11]) + int(rest[12]), int(rest[19])


def proc_status(pid, key):
    """A kB field of /proc/PID/status (VmRSS, VmHWM), or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def cpu_times():
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v) - idle, sum(v)


def cpu_ns(pid):
    """On-CPU nanoseconds of every live thread of pid (/proc/PID/task/*/schedstat), or None."""
    total = 0
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total


def descendants(root):
    """Every live descendant of root as {pid: starttime} (to never kill a recycled pid)."""
    kids = collections.defaultdict(list)
    start = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st:
                kids[st[1]].append(int(d))
                start[int(d)] = st[3]
    out, todo = {}, [root]
    while todo:
        for k in kids.get(todo.pop(), []):
            if k not in out:
                out[k] = start[k]
                todo.append(k)
    return out


def alive_same(pid, starttime):
    st = proc_stat(pid)
    return st is not None and st[3] == starttime and st[0] not in ("Z", "X")


# ---- ports and probes ----------------------------------------------------------------------------

class Ports:
    """Fresh ports, each used once per run, below the ephemeral range (so a client socket of ours
    or of anyone else cannot be sitting on it)."""

    def __init__(self, rng):
        self.rng = rng
        self.used = set()
        try:
            with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
                lo = int(f.read().split()[0])
        except (OSError, ValueError):
            lo = 32768
        self.lo, self.hi = (max(1024, lo - 16000), lo - 1) if lo > 4000 else (None, None)

    def fresh(self):
        for _ in range(2000):
            if self.lo:
                p = self.rng.randint(self.lo, self.hi)
            else:
                s = socket.socket()
                s.bind(("127.0.0.1", 0))
                p = s.getsockname()[1]
                s.close()
            if p in self.used:
                continue
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                continue
            finally:
                s.close()
            self.used.add(p)
            return p
        raise RuntimeError("no free port found")


async def http_get(port, timeout):
    """One GET / on a new connection: (status, body). Raises OSError or TimeoutError."""
    async with asyncio.timeout(timeout):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        try:
            w.write(REQUEST)
            data = await r.read()
        finally:
            w.close()
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        return int(head.split(b"\r\n", 1)[0].split()[1]), body
    except (IndexError, ValueError):
        raise ConnectionError(f"bad response {data[:60]!r}")


async def first_200(port, timeout, interval, errors):
    """Polls GET / until a 200: returns its monotonic time, or None after timeout. A refused
    connect is expected (nobody listens yet); anything else is counted in errors."""
    end = now() + timeout
    while now() < end:
        try:
            status, _ = await http_get(port, min(5.0, max(0.05, end - now())))
            if status == 200:
                return now()
            errors[f"HTTP {status}"] += 1
        except ConnectionRefusedError:
            pass
        except (OSError, TimeoutError) as e:
            errors[type(e).__name__] += 1
        await asyncio.sleep(interval)
    return None


async def port_closed(port, timeout, interval):
    """Polls connect() until the port refuses: returns that monotonic time, or None.
    A server that stopped accepting but still listens (uWSGI while its workers die) lets these
    probes fill its accept queue; the kernel then drops our SYNs and would retry them only after
    1 s, so a connect that takes over 50 ms is abandoned and tried afresh."""
    end = now() + timeout
    while now() < end:
        try:
            async with asyncio.timeout(0.05):
                _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
        except ConnectionRefusedError:
            return now()
        except (OSError, TimeoutError):
            pass
        await asyncio.sleep(interval)
    return None


# ---- the emperor under test ----------------------------------------------------------------------

def cgroup2_private(tag):
    """A fresh cgroup2 directory under our own cgroup, or (None, why)."""
    mount = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            if " - cgroup2 " in line:
                mount = line.split()[4]
                break
    if not mount:
        return None, "no cgroup2 mount"
    own = None
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                own = line[3:].strip()
    if own is None:
        return None, "no cgroup2 entry in /proc/self/cgroup"
    path = os.path.join(mount + ("" if own == "/" else own), tag)
    try:
        os.mkdir(path)
    except OSError as e:
        return None, f"cannot create {path}: {e.strerror}"
    return path, None


def cgroup_cleanup(path, notes):
    """Removes our private cgroup tree, deepest first; kills (by pid) anything still in it."""
    for d, subdirs, _ in sorted(os.walk(path), key=lambda t: -t[0].count("/")):
        try:
            with open(os.path.join(d, "cgroup.procs")) as f:
                pids = [int(x) for x in f.read().split()]
        except OSError:
            pids = []
        for p in pids:
            notes.append(f"process {p} still in {d} after the emperor exited: SIGKILL")
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        for _ in range(100):
            try:
                os.rmdir(d)
                break
            except OSError:
                time.sleep(0.05)


class Emperor:
    def __init__(self, a, ports, notes):
        self.a = a
        self.notes = notes
        self.conf = os.path.join(a.work, "conf")
        self.stage = os.path.join(a.work, "stage")  # same filesystem: mv is a rename
        self.log = os.path.join(a.work, "emperor.log")
        self.proc = None
        self.cgroup = None
        for d in (self.conf, self.stage):
            os.makedirs(d, exist_ok=True)
        if a.kind == "emperor":
            run, state = os.path.join(a.work, "run"), os.path.join(a.work, "state")
            self.control = os.path.join(run, "control.sock")
            self.cmd = [a.emperor, self.conf, "--run-dir", run, "--state-dir", state,
                        "--http", f"127.0.0.1:{ports.fresh()}", "--vassal", a.vassal]
            self.sig = signal.SIGTERM
        else:
            self.cmd = [a.uwsgi, "--emperor", self.conf]
            self.sig = signal.SIGINT  # SIGTERM makes uWSGI reload, not stop

    def start(self):
        cmd = self.cmd
        if self.a.kind == "emperor" and self.a.cgroup == "private":
            # Our emperor kills every cgroup under <its cgroup>/emperor when it starts (leftovers
            # of a dead emperor). Run it in a private cgroup so that it can neither kill the
            # vassals of another engineer's emperor nor have its own killed by one.
            self.cgroup, why = cgroup2_private(f"emperor-bench.{os.getpid()}")
            if self.cgroup:
                cmd = ["/bin/sh", "-c", 'echo $$ >"$0/cgroup.procs" && exec "$@"', self.cgroup] + cmd
            else:
                self.notes.append(f"no private cgroup ({why}): the emperor shares "
                                  "<cgroup>/emperor with any other emperor on this machine")
        with open(os.path.join(self.a.work, "cmd.txt"), "w") as f:
            f.write(" ".join(cmd) + "\n")
        logf = open(self.log, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                     cwd=self.a.work, start_new_session=True)
        logf.close()
        end = now() + 15
        while now() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the emperor exited with status {self.proc.returncode} at start")
            if self.ready():
                return
            time.sleep(0.02)
        raise RuntimeError("the emperor did not get ready within 15 s")

    def ready(self):
        if self.a.kind == "emperor":
            return os.path.exists(self.control)
        with open(self.log, "rb") as f:
            return b"*** starting uWSGI Emperor ***" in f.read()

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout):
        """Its own stop signal, by pid; SIGKILL after timeout. Returns (seconds, note)."""
        if self.proc is None:
            return None, None
        kids = descendants(self.proc.pid) if self.alive() else {}
        t0 = now()
        note = None
        if self.alive():
            self.proc.send_signal(self.sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                note = f"did not exit within {timeout}s of {self.sig.name}: SIGKILL"
                self.proc.kill()
                self.proc.wait()
        took = now() - t0
        status = self.proc.returncode
        self.notes.append(f"emperor stopped with {self.sig.name}: exit status {status} after {took:.2f}s")
        if note:
            self.notes.append(note)
        # Vassals that outlived the emperor: reported, then killed by pid (never by name).
        end = now() + 5
        left = {p: s for p, s in kids.items() if alive_same(p, s)}
        while left and now() < end:
            time.sleep(0.1)
            left = {p: s for p, s in left.items() if alive_same(p, s)}
        for p in left:
            self.notes.append(f"pid {p} (a vassal process) outlived the emperor by 5 s: SIGKILL")
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        if self.cgroup:
            cgroup_cleanup(self.cgroup, self.notes)
            self.cgroup = None
        self.proc = None
        return took, note

    # -- inis --

    def ini_text(self, port, app):
        return ("[uwsgi]\nplugins = python3\n"
                f"http-socket = 127.0.0.1:{port}\nwsgi-file = {app}\n"
                "processes = 1\nthreads = 1\nmaster = true\ndisable-logging = true\n")

    def stage_ini(self, name, port, app):
        tmp = os.path.join(self.stage, name + ".ini")
        with open(tmp, "w") as f:
            f.write(self.ini_text(port, app))
        return tmp, os.path.join(self.conf, name + ".ini")


# ---- the measurements ----------------------------------------------------------------------------

class Bench:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)  # the same pauses for both emperors
        self.ports = Ports(random.Random(a.seed + os.getpid()))
        self.notes = []
        self.res = {"kind": a.kind, "notes": self.notes}
        self.e = Emperor(a, self.ports, self.notes)
        self.poll = a.poll_ms / 1000.0

    def save(self):
        with open(os.path.join(self.a.work, "results.json"), "w") as f:
            json.dump(self.res, f, indent=1)

    def loadavg(self):
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])

    async def jitter(self):
        # A random pause before each timed action: uWSGI's emperor scans every 3 s, so without it
        # the rounds would lock onto one phase of its scan and always wait the same.
        await asyncio.sleep(self.rng.uniform(0, self.a.jitter))

    def check_alive(self):
        if not self.e.alive():
            raise RuntimeError(f"the emperor exited (status {self.e.proc.returncode}); see {self.e.log}")

    async def m_start(self):
        """1. mv an ini in -> first 200; then rm it -> port closed (recorded, not the stop number)."""
        r = {"first_200_ms": [], "closed_after_rm_ms": [], "failed": 0, "errors": collections.Counter(),
             "loadavg": self.loadavg()}
        self.res["start"] = r
        for i in range(self.a.rounds):
            self.check_alive()
            port = self.ports.fresh()
            tmp, dst = self.e.stage_ini(f"start{i:02d}-{port}", port, self.a.hello)
            await self.jitter()
            t0 = now()
            os.rename(tmp, dst)
            t1 = await first_200(port, self.a.start_timeout, self.poll, r["errors"])
            if t1 is None:
                r["failed"] += 1
                self.notes.append(f"start round {i + 1}: no 200 on port {port} within {self.a.start_timeout}s")
            r["first_200_ms"].append(ms(t1 - t0) if t1 else None)
            await asyncio.sleep(0.3)  # let it settle (READY, "loyal") before removing it
            t2 = now()
            os.unlink(dst)
            t3 = await port_closed(port, self.a.stop_timeout, self.poll)
            if t3 is None:
                self.notes.append(f"start round {i + 1}: port {port} still open {self.a.stop_timeout}s after rm")
            r["closed_after_rm_ms"].append(ms(t3 - t2) if t3 else None)
            say(f"  start {i + 1:2d}/{self.a.rounds}: first 200 after "
                f"{'FAILED' if t1 is None else f'{(t1 - t0) * 1000:7.1f} ms'}, "
                f"closed {'NEVER' if t3 is None else f'{(t3 - t2) * 1000:7.1f} ms'} after rm")
        self.save()

    async def m_reload(self):
        """2. touch the ini of a running vassal -> first response from a new worker pid."""
        r = {"ms": [], "failed": 0, "requests": 0, "errors": collections.Counter(), "old_pid_after_new": 0,
             "loadavg": self.loadavg()}
        self.res["reload"] = r
        port = self.ports.fresh()
        tmp, dst = self.e.stage_ini(f"reload-{port}", port, self.a.pidapp)
        os.rename(tmp, dst)
        if await first_200(port, self.a.start_timeout, self.poll, collections.Counter()) is None:
            r["failed"] = self.a.reloads
            self.notes.append(f"reload: the pidapp vassal never served on port {port}")
            return
        await asyncio.sleep(0.5)
        _, body = await http_get(port, 5)
        old = {body.strip()}
        for i in range(self.a.reloads):
            self.check_alive()
            # uWSGI compares mtimes in whole seconds: the touch must land in a later second.
            last = int(os.stat(dst).st_mtime)
            while time.time() < last + 1.05:
                await asyncio.sleep(0.05)
            await self.jitter()
            t0 = now()
            os.utime(dst)
            t_new = None
            end = t0 + self.a.start_timeout
            tail_end = None
            while now() < (tail_end or end):
                try:
                    status, body = await http_get(port, 5)
                    r["requests"] += 1
                    if status != 200:
                        r["errors"][f"HTTP {status}"] += 1
                    elif body.strip() not in old:
                        if t_new is None:
                            t_new = now()
                            tail_end = t_new + self.a.reload_tail
                            new = body.strip()
                    elif t_new is not None:
                        r["old_pid_after_new"] += 1
                except (OSError, TimeoutError) as e:
                    r["requests"] += 1
                    r["errors"][type(e).__name__] += 1
                await asyncio.sleep(self.poll)
            if t_new is None:
                r["failed"] += 1
                r["ms"].append(None)
                self.notes.append(f"reload {i + 1}: no new worker pid within {self.a.start_timeout}s")
                say(f"  reload {i + 1:2d}/{self.a.reloads}: FAILED")
                continue
            r["ms"].append(ms(t_new - t0))
            say(f"  reload {i + 1:2d}/{self.a.reloads}: new worker pid {new.decode()} after "
                f"{(t_new - t0) * 1000:7.1f} ms; errors so far {sum(r['errors'].values())}")
            old = {new}
        os.unlink(dst)
        await port_closed(port, self.a.stop_timeout, self.poll)
        self.save()

    async def start_many(self, names_ports, app, timeout):
        """Stages every ini, renames them all in as fast as possible, waits for every 200.
        Returns (t0, {port: time of first 200 or None})."""
        staged = [self.e.stage_ini(n, p, app) for n, p in names_ports]
        await asyncio.sleep(0.2)
        interval = max(self.poll, 0.0004 * len(staged))  # keep the pollers' CPU bounded
        errors = collections.Counter()
        t0 = now()
        for tmp, dst in staged:
            os.rename(tmp, dst)
        times = await asyncio.gather(*(first_200(p, timeout, interval, errors) for _, p in names_ports))
        if errors:
            self.notes.append(f"while {len(staged)} started: probe errors {dict(errors)}")
        return t0, dict(zip((p for _, p in names_ports), times))

    async def stop_many(self, names, ports):
        interval = max(self.poll, 0.0004 * len(ports))
        t0 = now()
        for n in names:
            os.unlink(os.path.join(self.e.conf, n + ".ini"))
        times = await asyncio.gather(*(port_closed(p, self.a.stop_timeout, interval) for p in ports))
        return t0, times

    async def m_stop(self):
        """3. rm the ini of a running vassal -> its port refuses connections."""
        r = {"ms": [], "failed": 0, "loadavg": self.loadavg()}
        self.res["stop"] = r
        np = [(f"stop{i:02d}-{p}", p) for i, p in ((i, self.ports.fresh()) for i in range(self.a.stops))]
        _, up = await self.start_many(np, self.a.hello, max(self.a.start_timeout, 60))
        if any(t is None for t in up.values()):
            self.notes.append(f"stop: {sum(t is None for t in up.values())} of {len(np)} vassals never served")
        await asyncio.sleep(1.0)
        for i, (name, port) in enumerate(np):
            self.check_alive()
            await self.jitter()
            t0 = now()
            os.unlink(os.path.join(self.e.conf, name + ".ini"))
            t1 = await port_closed(port, self.a.stop_timeout, self.poll)
            if t1 is None:
                r["failed"] += 1
                self.notes.append(f"stop {i + 1}: port {port} still open {self.a.stop_timeout}s after rm")
            r["ms"].append(ms(t1 - t0) if t1 else None)
            say(f"  stop {i + 1:2d}/{self.a.stops}: port closed "
                f"{'NEVER' if t1 is None else f'{(t1 - t0) * 1000:7.1f} ms'} after rm")
        self.save()

    async def m_burst(self):
        """4. BURST inis renamed in at once -> every one serves a 200."""
        runs = []
        self.res["burst"] = runs
        for k in range(self.a.burst_runs):
            self.check_alive()
            np = [(f"burst{k}-{i:02d}-{p}", p) for i, p in ((i, self.ports.fresh()) for i in range(self.a.burst))]
            la = self.loadavg()
            t0, up = await self.start_many(np, self.a.hello, max(self.a.start_timeout, 120))
            ok = [t - t0 for t in up.values() if t is not None]
            failed = len(np) - len(ok)
            run = {"n": len(np), "failed": failed, "all_ms": ms(max(ok)) if ok and not failed else None,
                   "first_ms": ms(min(ok)) if ok else None, "median_ms": ms(statistics.median(ok)) if ok else None,
                   "loadavg": la}
            say(f"  burst {k + 1}/{self.a.burst_runs}: {len(ok)}/{len(np)} serving; all after "
                f"{'FAILED' if failed else f'{max(ok):.3f} s'} (first {min(ok) if ok else 0:.3f} s)")
            await asyncio.sleep(1.0)
            t1, closed = await self.stop_many([n for n, _ in np], [p for _, p in np])
            never = sum(t is None for t in closed)
            run["all_closed_ms"] = None if never else ms(max(closed) - t1)
            if never:
                self.notes.append(f"burst {k + 1}: {never} ports still open after rm")
            say(f"  burst {k + 1}/{self.a.burst_runs}: all {len(np)} removed, ports closed after "
                f"{'NEVER' if never else f'{max(closed) - t1:.3f} s'}")
            runs.append(run)
        self.save()

    async def m_fleet(self):
        """5. The emperor's own RSS and idle CPU with FLEET idle vassals."""
        pid = self.e.pid
        r = {"n": self.a.fleet, "loadavg": self.loadavg()}
        self.res["fleet"] = r
        np = [(f"fleet{i:03d}-{p}", p) for i, p in ((i, self.ports.fresh()) for i in range(self.a.fleet))]
        t0, up = await self.start_many(np, self.a.hello, max(self.a.start_timeout, 300))
        ok = [t - t0 for t in up.values() if t is not None]
        r["failed"] = len(np) - len(ok)
        r["all_serving_ms"] = ms(max(ok)) if ok and not r["failed"] else None
        say(f"  fleet: {len(ok)}/{len(np)} serving after {max(ok) if ok else 0:.2f} s; "
            f"settling {self.a.settle:g} s, then {self.a.idle:g} s idle")
        await asyncio.sleep(self.a.settle)
        self.check_alive()
        st0, ns0, c0 = proc_stat(pid), cpu_ns(pid), now()
        r["rss_kb_start"] = proc_status(pid, "VmRSS")
        await asyncio.sleep(self.a.idle)
        st1, ns1, c1 = proc_stat(pid), cpu_ns(pid), now()
        r["rss_kb"] = proc_status(pid, "VmRSS")
        r["hwm_kb"] = proc_status(pid, "VmHWM")
        r["cpu_s"] = (st1[2] - st0[2]) / CLK_TCK
        r["idle_s"] = round(c1 - c0, 2)
        r["cpu_pct"] = round(100.0 * r["cpu_s"] / (c1 - c0), 3)
        # utime+stime count whole clock ticks (10 ms): schedstat says what a quiet one really used.
        r["cpu_ns"] = None if ns0 is None or ns1 is None else ns1 - ns0
        kids = descendants(pid)
        r["processes"] = len(kids)
        r["fleet_rss_kb"] = sum(proc_status(k, "VmRSS") or 0 for k in kids)
        errors = collections.Counter()
        serving = 0
        for _, p in np:
            try:
                serving += (await http_get(p, 5))[0] == 200
            except (OSError, TimeoutError) as e:
                errors[type(e).__name__] += 1
        r["serving_after_idle"] = serving
        if serving < len(np):
            self.notes.append(f"fleet: only {serving}/{len(np)} served after the idle window {dict(errors)}")
        on_cpu = "-" if r["cpu_ns"] is None else f"{r['cpu_ns'] / 1e6:.1f} ms"
        say(f"  fleet: emperor pid {pid} RSS {r['rss_kb']} kB (peak {r['hwm_kb']} kB), "
            f"CPU {r['cpu_s']:.2f} s in {r['idle_s']} s ({r['cpu_pct']:.2f}%; schedstat {on_cpu}); "
            f"{r['processes']} vassal processes, {r['fleet_rss_kb'] // 1024} MB RSS in all")
        # The emperor's own stop with the whole fleet up: exit time and every port closed.
        self.save()
        ports = [p for _, p in np]
        t_stop = now()
        took, _ = self.e.stop(self.a.stop_timeout)
        closed = await asyncio.gather(*(port_closed(p, 5, 0.01) for p in ports))
        r["emperor_stop_s"] = round(took, 3) if took is not None else None
        r["ports_open_after_stop"] = sum(t is None for t in closed)
        say(f"  fleet: emperor stopped ({self.e.sig.name}) in {took:.2f} s; "
            f"{r['ports_open_after_stop']} ports still open")
        self.save()

    async def run(self):
        e = self.e
        e.start()
        self.res["pid"] = e.pid
        self.res["cmd"] = e.cmd
        say(f"  {self.a.kind}: pid {e.pid}, log {e.log}")
        await asyncio.sleep(0.5)
        self.res["rss_kb_empty"] = proc_status(e.pid, "VmRSS")
        busy = self.res["cpu_busy_pct"] = {}
        for step in self.a.steps.split():
            b0 = cpu_times()
            await getattr(self, "m_" + step)()
            b1 = cpu_times()
            # Everything on the machine, this bench and its vassals included: a step far busier
            # in one run than in another had company.
            busy[step] = round(100.0 * (b1[0] - b0[0]) / max(1, b1[1] - b0[1]))
            if step != "fleet":  # the fleet step ends by stopping the emperor
                self.check_alive()


def scan_log(kind, path):
    """Log lines that deserve a look, by kind: {pattern: (count, first lines)}."""
    if kind == "emperor":
        pat = re.compile(r"killed by signal|still running|error|fail|warn|crash|backoff|timed? ?out|"
                         r"exited with status [1-9]|<[0-4]>|Traceback|refus", re.I)
        skip = re.compile(r"^$")
    else:
        pat = re.compile(r"Traceback|error|cursed|DAMN|segmentation|unable|Errno|refus|"
                         r"throttl|is dead|unloyal|lost|killed|full !!!", re.I)
        skip = re.compile(r"running as root|without its master|uid/gid|thunder lock")
    hits = collections.Counter()
    first = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                if pat.search(line) and not skip.search(line):
                    key = re.sub(r"\d+", "N", line)[:120]
                    hits[key] += 1
                    if hits[key] == 1:
                        first.append(line[:200])
    except OSError:
        pass
    return [{"line": ln, "count": hits[re.sub(r"\d+", "N", ln)[:120]]} for ln in first[:20]]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--kind", choices=["emperor", "uwsgi"], required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--emperor", default="build/emperor")
    p.add_argument("--vassal", default="build/vassal")
    p.add_argument("--uwsgi", default="uwsgi")
    p.add_argument("--hello", required=True)
    p.add_argument("--pidapp", required=True)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--reloads", type=int, default=10)
    p.add_argument("--stops", type=int, default=10)
    p.add_argument("--burst", type=int, default=50)
    p.add_argument("--burst-runs", type=int, default=1)
    p.add_argument("--fleet", type=int, default=100)
    p.add_argument("--idle", type=float, default=30)
    p.add_argument("--settle", type=float, default=3)
    p.add_argument("--jitter", type=float, default=3)
    p.add_argument("--poll-ms", type=float, default=3)
    p.add_argument("--reload-tail", type=float, default=0.5)
    p.add_argument("--start-timeout", type=float, default=30)
    p.add_argument("--stop-timeout", type=float, default=60)
    p.add_argument("--cgroup", choices=["private", "inherit"], default="private")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--steps", default="start reload stop burst fleet")
    a = p.parse_args()
    a.work = os.path.abspath(a.work)
    os.makedirs(a.work, exist_ok=True)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    b = Bench(a)
    rc = 0
    try:
        asyncio.run(b.run())
    except (Interrupted, KeyboardInterrupt) as e:
        b.notes.append(f"interrupted ({e})")
        rc = 130
    except Exception as e:  # report it, stop the emperor, keep what was measured
        b.notes.append(f"aborted: {type(e).__name__}: {e}")
        say(f"  ABORTED: {type(e).__name__}: {e}")
        rc = 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if b.e.proc is not None:
            b.e.stop(a.stop_timeout)
        b.res["log"] = scan_log(a.kind, b.e.log)
        b.save()
    return rc


if __name__ == "__main__":
    sys.exit(main())
