"""Sends stdin verbatim to 127.0.0.1:PORT, prints everything received until the server closes
the connection or the timeout passes (then prints "<timeout>")."""
import socket
import sys
import time

port, timeout = int(sys.argv[1]), float(sys.argv[2])
data = sys.stdin.buffer.read()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(data)
deadline = time.time() + timeout
out = b""
while True:
    left = deadline - time.time()
    if left <= 0:
        out += b"<timeout>"
        break
    s.settimeout(left)
    try:
        b = s.recv(65536)
    except socket.timeout:
        out += b"<timeout>"
        break
    except ConnectionResetError:
        out += b"<reset>"
        break
    if not b:
        break
    out += b
sys.stdout.buffer.write(out)
