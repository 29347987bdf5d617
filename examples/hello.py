"""The hello app of the examples and benchmarks: a WSGI callable with no framework."""
import os


def application(environ, start_response):
    body = b"Hello World\n"
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
