"""A JSON POST handler that sleeps 0.2 s, as a stand-in for a database call: the app of
bench/concurrency.sh and of the thread-scaling tests. POST a JSON object, get back its keys
and the process that served it. SLEEPY_SECONDS changes the wait."""
import json
import os
import time

SECONDS = float(os.environ.get("SLEEPY_SECONDS", "0.2"))


def application(environ, start_response):
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b"{}"
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        return [b"bad json\n"]
    time.sleep(SECONDS)
    out = json.dumps({"keys": sorted(doc) if isinstance(doc, dict) else [],
                      "pid": os.getpid()}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(out)))])
    return [out]
