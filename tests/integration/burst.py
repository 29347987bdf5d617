"""burst.py PORT N PATH [TIMEOUT]: N requests for PATH at once, each on its own
connection (all connected before any is sent, so they really are concurrent); prints
"N ok, slowest S s" and exits 1 unless every response is a 200."""
import socket
import sys
import threading
import time

port, n, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 30
socks = [socket.create_connection(("127.0.0.1", port), timeout=timeout) for _ in range(n)]
results = []
lock = threading.Lock()


def one(s):
    t0 = time.monotonic()
    status = b"<none>"
    try:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        status = data.split(b"\r\n", 1)[0]
    except OSError as e:
        status = str(e).encode()
    with lock:
        results.append((time.monotonic() - t0, status))


threads = [threading.Thread(target=one, args=(s,)) for s in socks]
for t in threads:
    t.start()
for t in threads:
    t.join()
good = sum(1 for _, st in results if st.startswith(b"HTTP/1.1 200"))
print("%d ok of %d, slowest %.2f s" % (good, n, max(r[0] for r in results)))
if good != n:
    print("not ok:", sorted(set(st for _, st in results if not st.startswith(b"HTTP/1.1 200"))))
sys.exit(0 if good == n else 1)
