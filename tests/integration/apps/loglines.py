"""Prints numbered log lines fast, for the log rotation test: GET /lines?START,COUNT writes
lines START .. START+COUNT-1 to stderr (the master's log pipe), each
"L <9-digit number> <fixed payload>\n", in writes of whole lines up to PIPE_BUF (4096 bytes)
so lines from concurrent requests never interleave."""
import os

PAYLOAD = "abcdefghijklmnopqrstuvwxyz0123456789"
PER_WRITE = 4096 // len("L 000000000 %s\n" % PAYLOAD)


def application(environ, start_response):
    start, count = (int(x) for x in environ.get("QUERY_STRING", "0,0").split(","))
    for first in range(start, start + count, PER_WRITE):
        last = min(first + PER_WRITE, start + count)
        chunk = "".join(["L %09d %s\n" % (i, PAYLOAD) for i in range(first, last)]).encode()
        os.write(2, chunk)
    body = b"%d\n" % count
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
