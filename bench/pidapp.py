"""A WSGI app for bench/emperor.sh's reload measurement: answers with the pid of the worker
that served the request, so the bench can tell when a reload put a new worker in place."""
import os


def application(environ, start_response):
    body = b"%d\n" % os.getpid()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
