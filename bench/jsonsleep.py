"""The concurrency benchmark's app: a JSON POST handler that waits 0.2 s, standing in for a
database call. It calls time.sleep, so under gevent (every server here is told to
monkey-patch) the wait yields to the hub instead of holding a thread."""
import json
import time

DELAY = 0.2


def application(environ, start_response):
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length else b""
    doc = json.loads(body) if body else {}
    # ?0: no wait at all, for the ceiling the machine and ab allow.
    time.sleep(float(environ.get("QUERY_STRING") or DELAY))
    out = json.dumps({"ok": True, "items": len(doc.get("items", ())), "echo": doc.get("id")})
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(out)))])
    return [out.encode()]
