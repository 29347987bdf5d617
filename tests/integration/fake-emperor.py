#!/usr/bin/env python3
# A stand-in for the emperor's control socket (lib/proto.h), for testing emperorctl alone:
# an AF_UNIX stream server answering canned replies, one request line per connection.
#
#   fake-emperor.py SOCKET REQUEST_LOG
#
# Every request line is appended, as received, to REQUEST_LOG. If the file SOCKET.reply
# exists, its content is sent as the reply to any request, as is (tests write malformed
# replies there). Otherwise the reply depends on the command and the vassal named:
#   status                 two vassals, "hello" (running) and "api" (crash-loop)
#   status hello           hello in detail, as {"vassals":[...]}
#   status api             api in detail, as {"vassal":{...}}
#   status odd             a vassal whose every field has the wrong type
#   any cmd, vassal nope   ok:false, code no-such-vassal
#   vassal garbage         a line that is not JSON
#   vassal noreply         the connection closes without a reply
#   vassal hang            no reply until the client goes away
#   vassal huge            a line of 17 MiB
#   vassal fail / denied / badreq / nocode    ok:false with code failed / permission-denied
#                          / bad-request / none
#   other commands         ok:true and a message naming the command and the vassal
import json
import os
import socket
import socketserver
import sys

SOCK, LOG = sys.argv[1], sys.argv[2]

HELLO = {
    "name": "hello", "state": "running", "pid": 4242, "uptime": 7512.5, "restarts": 0,
    "workers": {"busy": 1, "total": 2}, "requests": 1234, "last_exit": None,
    "last_error": None, "ini": "/etc/apps.d/hello.ini",
    "sockets": ["127.0.0.1:8080", "unix:/run/emperor/hello.sock"],
    "worker_pids": [4243, 4244], "uid": 33,
}
API = {
    "name": "api", "state": "crash-loop", "backoff": 3.2, "pid": None, "uptime": None,
    "restarts": 7, "requests": 0, "last_exit": "exited with status 1",
    "last_error": "api.ini:3: the app failed to import: ModuleNotFoundError: No module named "
                  "'flask_sqlalchemy'\nTraceback (most recent call last):\n  File \"app.py\", "
                  "line 1, in <module>\n",
    "ini": "/etc/apps.d/api.ini", "sockets": ["127.0.0.1:8081"], "worker_pids": [],
    "uid": 33,
}
ODD = {"name": "odd", "state": 5, "pid": "x", "uptime": "long", "workers": [1, 2],
       "requests": True, "restarts": {}, "sockets": "nope", "worker_pids": {"a": 1},
       "last_error": 12, "color": "blue"}

FAILURES = {
    "nope": ("no-such-vassal", "no vassal named 'nope'"),
    "fail": ("failed", "cannot spawn 'fail': Resource temporarily unavailable"),
    "denied": ("permission-denied", "uid 1000 may not stop 'denied'"),
    "badreq": ("bad-request", "bad request: unknown field"),
}


def reply_for(req):
    cmd, name = req.get("cmd"), req.get("vassal")
    if name in FAILURES:
        code, error = FAILURES[name]
        return {"ok": False, "code": code, "error": error}
    if name == "nocode":
        return {"ok": False}
    if cmd == "status":
        if name is None:
            return {"ok": True, "vassals": [HELLO, API]}
        if name == "hello":
            return {"ok": True, "vassals": [HELLO]}
        if name == "api":
            return {"ok": True, "vassal": API}
        if name == "odd":
            return {"ok": True, "vassals": [ODD]}
        return {"ok": False, "code": "no-such-vassal", "error": "no vassal named '%s'" % name}
    if req.get("all"):
        return {"ok": True, "message": "%s: 2 vassals" % cmd}
    return {"ok": True, "message": "%s '%s'" % (cmd, name)}


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        try:
            self.answer()
        except (BrokenPipeError, ConnectionResetError):
            pass  # emperorctl gave up first (a reply too large): what the test wants

    def answer(self):
        line = self.rfile.readline(1 << 20)
        with open(LOG, "ab") as f:
            f.write(line if line.endswith(b"\n") else line + b"\n")
        if os.path.exists(SOCK + ".reply"):
            with open(SOCK + ".reply", "rb") as f:
                self.wfile.write(f.read())
            return
        try:
            req = json.loads(line)
        except ValueError:
            self.wfile.write(b'{"ok":false,"code":"bad-request","error":"not JSON"}\n')
            return
        name = req.get("vassal")
        if name == "garbage":
            self.wfile.write(b"this is not json\n")
        elif name == "noreply":
            pass
        elif name == "hang":
            while self.request.recv(4096):
                pass
        elif name == "huge":
            self.wfile.write(b'{"ok":true,"message":"' + b"x" * (17 << 20) + b'"}\n')
        else:
            self.wfile.write(json.dumps(reply_for(req)).encode() + b"\n")


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


if os.path.exists(SOCK):
    os.unlink(SOCK)
with Server(SOCK, Handler) as server:
    server.serve_forever()
