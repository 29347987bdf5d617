"""An app whose code version is read at import, to see that a reload runs new code."""
import os

with open(os.environ["VERSION_FILE"]) as f:
    VERSION = f.read().strip()


def application(environ, start_response):
    body = ("version %s pid %d\n" % (VERSION, os.getpid())).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
