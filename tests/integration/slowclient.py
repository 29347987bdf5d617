"""Slow and idle clients for test-slowclients.sh.

slowclient.py header PORT INTERVAL TIMEOUT
    sends a request head one byte every INTERVAL seconds; prints the status line it got (or
    "<timeout>" after TIMEOUT s, "<closed>" on a close without one) and the seconds it took.
slowclient.py body PORT PATH INTERVAL CHUNK TIMEOUT [LENGTH]
    sends a POST head announcing a body of LENGTH bytes (2 GB), then CHUNK bytes of it every
    INTERVAL seconds;
    prints the status line and the seconds, as above.
Both print "sent" first, once the first piece is sent.
slowclient.py idle PORT N SECONDS
    opens N keep-alive connections, one request on each (its answer read), then holds them all
    open, idle, for SECONDS; prints "N open" once they are all open, "N still open" at the end.
"""
import socket
import sys
import time


def status_of(data):
    return data.split(b"\r\n", 1)[0].decode("latin-1") if data else "<closed>"


def trickle(port, pieces, interval, timeout):
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    got = b""
    first = True
    for p in pieces:
        try:
            s.sendall(p)
        except (BlockingIOError, OSError):
            pass
        if first:
            print("sent", flush=True)
            first = False
        end = time.monotonic() + interval
        while time.monotonic() < end:
            try:
                b = s.recv(65536)
                if not b:
                    return status_of(got), time.monotonic() - t0
                got += b
                if b"\r\n" in got:
                    return status_of(got), time.monotonic() - t0
            except BlockingIOError:
                time.sleep(0.05)
            except OSError:
                return status_of(got) if got else "<reset>", time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            return "<timeout>", time.monotonic() - t0
    return "<timeout>", time.monotonic() - t0


def pieces_forever(first, chunk):
    yield first
    while True:
        yield chunk


mode = sys.argv[1]
port = int(sys.argv[2])
if mode == "header":
    interval, timeout = float(sys.argv[3]), float(sys.argv[4])
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 4000 + b"\r\n\r\n"
    status, secs = trickle(port, (head[i:i + 1] for i in range(len(head))), interval, timeout)
    print("%s %.1f" % (status, secs))
elif mode == "body":
    path, interval, chunk, timeout = sys.argv[3], float(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
    length = int(sys.argv[7]) if len(sys.argv) > 7 else 2 * 1024 ** 3
    head = (b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
            % (path.encode(), length))
    status, secs = trickle(port, pieces_forever(head, b"x" * chunk), interval, timeout)
    print("%s %.1f" % (status, secs))
elif mode == "idle":
    n, secs = int(sys.argv[3]), float(sys.argv[4])
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data or not data.endswith(b"Hello World\n"):
            b = s.recv(65536)
            if not b:
                sys.exit("connection %d closed early: %r" % (i, data[:80]))
            data += b
        socks.append(s)
    print("%d open" % n, flush=True)
    time.sleep(secs)
    alive = 0
    for s in socks:
        s.setblocking(False)
        try:
            alive += s.recv(1) == b"" and 0 or 1
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    print("%d still open" % alive, flush=True)
else:
    sys.exit("unknown mode " + mode)
