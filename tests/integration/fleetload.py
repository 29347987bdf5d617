"""fleetload.py STOPFILE PORT...: requests to every port in turn from 8 threads, each on a new
connection, until STOPFILE exists; then prints "N ok, F failed, p99 X ms, max Y ms" and the
first failures, and exits 1 if any request failed (refused, reset, or not a 200)."""
import os
import socket
import sys
import threading
import time

stop, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
lock = threading.Lock()
times, failures = [], []


def one(port):
    t0 = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
        status = data.split(b"\r\n", 1)[0]
        ok = status.startswith(b"HTTP/1.1 200")
        what = status.decode(errors="replace")
    except OSError as e:
        ok, what = False, repr(e)
    dt = time.monotonic() - t0
    with lock:
        times.append(dt)
        if not ok:
            failures.append("port %d: %s" % (port, what))


def worker(k):
    i = k
    while not os.path.exists(stop):
        one(ports[i % len(ports)])
        i += 1


threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
times.sort()
p99 = times[int(len(times) * 0.99)] if times else 0
print("%d ok, %d failed, p99 %.1f ms, max %.1f ms" % (len(times) - len(failures), len(failures),
                                                      p99 * 1000, (times[-1] if times else 0) * 1000))
for f in failures[:5]:
    print("  " + f)
sys.exit(1 if failures or not times else 0)
