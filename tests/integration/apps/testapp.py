"""A WSGI app with one route per behaviour the integration tests check."""
import hashlib
import json
import os
import sys
import threading
import time

MARKER_DIR = os.environ.get("TESTAPP_MARKERS", "/tmp")
# How many /sleep requests this worker process ran at once, at most.
lock = threading.Lock()
in_flight = 0
max_in_flight = 0


class ClosingBody:
    """An iterable whose close() leaves a marker file, to prove close() is called."""

    def __init__(self, name, parts, fail=False):
        self.name, self.parts, self.fail = name, parts, fail

    def __iter__(self):
        for p in self.parts:
            if self.fail:
                raise RuntimeError("boom while iterating")
            yield p

    def close(self):
        with open(os.path.join(MARKER_DIR, self.name), "w") as f:
            f.write("closed\n")


# Memory /leak keeps, so the worker's rss grows until reload-on-rss replaces it.
leaked = []


def stuck_in_sleep(secs):
    """A handler stuck in time.sleep(): harakiri-verbose's stack must name this function."""
    time.sleep(secs)


def spin_forever(secs):
    """Busy Python code holding the GIL (between switch intervals)."""
    end = time.monotonic() + secs
    n = 0
    while time.monotonic() < end:
        n += 1
    return n


def text(start_response, body, status="200 OK", extra=()):
    body = body.encode() if isinstance(body, str) else body
    start_response(status, [("Content-Type", "text/plain"),
                            ("Content-Length", str(len(body)))] + list(extra))
    return [body]


def application(environ, start_response):
    path = environ["PATH_INFO"]
    method = environ["REQUEST_METHOD"]

    if path == "/":
        return text(start_response, "Hello World\n")
    if path.startswith("/environ"):
        keys = {k: v for k, v in environ.items() if isinstance(v, str)}
        keys["wsgi.multithread"] = environ["wsgi.multithread"]
        keys["wsgi.multiprocess"] = environ["wsgi.multiprocess"]
        keys["wsgi.version"] = list(environ["wsgi.version"])
        keys["has_file_wrapper"] = "wsgi.file_wrapper" in environ
        keys["pid"] = os.getpid()
        keys["thread"] = threading.current_thread().name
        return text(start_response, json.dumps(keys, sort_keys=True),
                    extra=[("X-Pid", str(os.getpid()))])
    if path == "/osenv":
        return text(start_response, "%s\n" % os.environ.get(environ["QUERY_STRING"], ""))
    if path == "/echo":
        body = environ["wsgi.input"].read()
        return text(start_response, body)
    if path == "/echo-lines":
        inp = environ["wsgi.input"]
        first = inp.readline()
        rest = [line for line in inp]
        out = json.dumps({"first": first.decode("latin-1"), "rest": len(rest),
                          "total": len(first) + sum(len(x) for x in rest)})
        return text(start_response, out)
    if path == "/echo-readlines":
        lines = environ["wsgi.input"].readlines()
        return text(start_response, json.dumps([x.decode("latin-1") for x in lines]))
    if path == "/read-small":
        inp = environ["wsgi.input"]
        parts = []
        while True:
            b = inp.read(7)
            if not b:
                break
            parts.append(b)
        return text(start_response, b"".join(parts))
    if path == "/sha256":
        h = hashlib.sha256()
        n = 0
        inp = environ["wsgi.input"]
        while True:
            b = inp.read(65536)
            if not b:
                break
            h.update(b)
            n += len(b)
        return text(start_response, "%d %s\n" % (n, h.hexdigest()))
    if path == "/ignore-body":
        return text(start_response, "ignored\n")
    if path == "/stream":
        def gen():
            for i in range(5):
                yield b"part %d\n" % i
        start_response("200 OK", [("Content-Type", "text/plain")])
        return gen()
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        return [b"and returned\n"]
    if path == "/empty-then-body":
        def gen():
            yield b""
            yield b"late body\n"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return gen()
    if path == "/file":
        f = open(__file__, "rb")
        start_response("200 OK", [("Content-Type", "text/x-python")])
        return environ["wsgi.file_wrapper"](f, 4096)
    if path == "/exception":
        raise ValueError("deliberate failure for the test")
    if path == "/str-body":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return ["this is str, not bytes"]
    if path == "/bad-header":
        start_response("200 OK", [("X-Evil", "a\r\nInjected: yes")])
        return [b"never sent\n"]
    if path == "/bad-status":
        start_response("OK", [])
        return [b"never sent\n"]
    if path == "/no-start-response":
        return [b"no start_response\n"]
    if path == "/exc-info":
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise KeyError("x")
        except KeyError:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")],
                           sys.exc_info())
        return [b"replaced by exc_info\n"]
    if path == "/close-marker":
        return_name = environ["QUERY_STRING"] or "closed"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return ClosingBody(return_name, [b"a", b"b\n"])
    if path == "/close-marker-fail":
        return_name = environ["QUERY_STRING"] or "closed-fail"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return ClosingBody(return_name, [b"a"], fail=True)
    if path == "/sleep":
        global in_flight, max_in_flight
        with lock:
            in_flight += 1
            max_in_flight = max(max_in_flight, in_flight)
        try:
            time.sleep(float(environ["QUERY_STRING"] or "1"))
        finally:
            with lock:
                in_flight -= 1
        return text(start_response, "slept\n")
    if path == "/stuck":
        stuck_in_sleep(float(environ["QUERY_STRING"].split("&")[0] or "10"))
        return text(start_response, "unstuck\n")
    if path == "/spin":
        spin_forever(float(environ["QUERY_STRING"] or "10"))
        return text(start_response, "spun\n")
    if path == "/leak":
        mb = int(environ["QUERY_STRING"] or "10")
        leaked.append(b"x" * (mb * 1024 * 1024))
        return text(start_response, "%d MB kept by pid %d\n" % (len(leaked) * mb, os.getpid()),
                    extra=[("X-Pid", str(os.getpid()))])
    if path == "/pyinfo":
        import gc
        return text(start_response, json.dumps({"frozen": gc.get_freeze_count(),
                                                "switch_interval": sys.getswitchinterval()}))
    if path == "/pid":
        return text(start_response, "%d\n" % os.getpid())
    if path == "/max-in-flight":
        return text(start_response, "%d\n" % max_in_flight)
    if path == "/status204":
        start_response("204 No Content", [])
        return []
    if path == "/status500":
        return text(start_response, "failed on purpose\n", status="500 Internal Server Error")
    if path == "/raise-mid-stream":
        def gen():
            yield b"first part, then\n"
            raise RuntimeError("boom after the headers went out")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return gen()
    if path == "/big":
        n = int(environ["QUERY_STRING"] or "1000000")
        return text(start_response, b"x" * n)
    if path == "/print":
        print("app says hello on stdout", flush=True)
        print("app says hello on stderr", file=sys.stderr, flush=True)
        environ["wsgi.errors"].write("app says hello on wsgi.errors\n")
        return text(start_response, "printed\n")
    if path == "/crash":
        os._exit(3)  # the worker dies with the request in hand (a C extension's segfault)
    if path == "/fork-grandchild":
        pid = os.fork()
        if pid == 0:
            time.sleep(3600)
            os._exit(0)
        return text(start_response, "%d\n" % pid)
    return text(start_response, "not found: %s\n" % path, status="404 Not Found")
