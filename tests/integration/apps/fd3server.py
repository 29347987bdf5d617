"""A socket-activated HTTP server for the exec scenario: it serves on the listening socket it
inherits at fd 3 (systemd's LISTEN_FDS protocol) and reports what a supervised program should
see: LISTEN_PID is its own pid, its signal mask and ignored set are empty, it leads its own
process group, and NOTIFY_SOCKET is not passed on."""
import json
import os
import socket
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

if os.environ.get("LISTEN_PID") != str(os.getpid()) or os.environ.get("LISTEN_FDS") != "1":
    print("fd3server: bad LISTEN_PID/LISTEN_FDS: %r %r (pid %d)" % (
        os.environ.get("LISTEN_PID"), os.environ.get("LISTEN_FDS"), os.getpid()), flush=True)
    sys.exit(2)


def status_field(name):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split()[1]
    return None


INFO = {
    "pid": os.getpid(),
    "pgid": os.getpgid(0),
    "sid": os.getsid(0),
    "sigblk": status_field("SigBlk"),
    "sigign": status_field("SigIgn"),
    "uid": os.getuid(),
    "notify_socket": os.environ.get("NOTIFY_SOCKET"),
    "stdin": os.readlink("/proc/self/fd/0"),
    "fds": sorted(int(x) for x in os.listdir("/proc/self/fd")),
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = (json.dumps(INFO) if self.path == "/info" else "fd3 pid=%d\n" % os.getpid()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("fd3server: " + fmt % args, flush=True)


class Server(HTTPServer):
    def server_bind(self):
        pass  # bound by whoever passed fd 3


server = Server(("", 0), Handler, bind_and_activate=False)
server.socket = socket.socket(fileno=3)
server.server_address = server.socket.getsockname()
print("fd3server: serving on fd 3 (%s:%d)" % server.server_address[:2], flush=True)
server.serve_forever()
