#!/usr/bin/env python3
"""Stands in for a supervisor's NOTIFY_SOCKET: binds an AF_UNIX datagram socket at PATH and
appends every datagram it receives to OUT (each followed by a newline, so every sd_notify
assignment is one line), until it is killed.

    notify-listener.py PATH OUT
"""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
# X_STATS datagrams run up to ~60 KiB: room for a burst of them.
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
try:
    os.unlink(path)
except FileNotFoundError:
    pass
with open(out, "ab", buffering=0) as f:
    sock.bind(path)  # the path appearing tells the test we listen
    while True:
        data = sock.recv(1 << 17)
        f.write(data + b"\n")
