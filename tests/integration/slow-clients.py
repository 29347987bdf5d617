"""Slow clients for 127.0.0.1:PORT: three that stall 3 s in the middle of a 10-byte body (the
app is reading it) and one that stalls 3 s in the middle of its head; prints each one's status
line once answered."""
import socket
import sys
import threading
import time

port = int(sys.argv[1])
lock = threading.Lock()


def slow(first, rest):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(first)
    time.sleep(3)
    s.sendall(rest)
    line = s.recv(4096).split(b"\r\n")[0].decode()
    # One write under a lock: print() from threads writes the text and its newline apart, and
    # two lines came out as one.
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


body = b"POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"
threads = [threading.Thread(target=slow, args=(body + b"12345", b"67890")) for _ in range(3)]
threads.append(threading.Thread(target=slow, args=(b"GET / HTTP/1.1\r\nHo", b"st: x\r\n\r\n")))
for t in threads:
    t.start()
for t in threads:
    t.join()
