"""A WSGI app for gevent = N: its waits yield to the hub (gevent.sleep), but /stuck blocks the
whole worker in time.sleep (not monkey-patched), as a stuck request would."""
import json
import os
import time

import gevent
import gevent.monkey

in_flight = 0
max_in_flight = 0


def stuck_greenlet(secs):
    """Blocks the hub: harakiri must kill the worker and name this request."""
    time.sleep(secs)


def application(env, start_response):
    global in_flight, max_in_flight
    path = env.get("PATH_INFO", "/")
    query = env.get("QUERY_STRING", "")
    if path == "/sleep":
        # POST /sleep?0.3 with a JSON body: parse it, wait without a thread, answer JSON.
        body = env["wsgi.input"].read()
        doc = json.loads(body) if body else {}
        in_flight += 1
        max_in_flight = max(max_in_flight, in_flight)
        try:
            gevent.sleep(float(query or 0.2))
        finally:
            in_flight -= 1
        out = json.dumps({"pid": os.getpid(), "echo": doc}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [out]
    if path == "/stuck":
        stuck_greenlet(float(query or 10))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"unstuck"]
    if path == "/patched":
        # With gevent-monkey-patch, time.sleep yields: is it gevent's?
        out = str(gevent.monkey.is_module_patched("time")).encode()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [out]
    if path == "/len":
        body = env["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(len(body)).encode()]
    if path == "/max":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(max_in_flight).encode()]
    if path == "/pid":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(os.getpid()).encode()]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello from gevent\n"]
