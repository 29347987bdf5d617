"""Prints a uwsgi protocol request (what nginx's uwsgi_pass sends) for METHOD PATH on stdout."""
import struct
import sys

method, path = sys.argv[1], sys.argv[2]
env = {"REQUEST_METHOD": method, "REQUEST_URI": path, "PATH_INFO": path, "QUERY_STRING": "",
       "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "x", "SERVER_PORT": "80",
       "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "x"}
body = b"".join(struct.pack("<H", len(k)) + k.encode() + struct.pack("<H", len(v)) + v.encode()
                for k, v in env.items())
sys.stdout.buffer.write(struct.pack("<BHB", 0, len(body), 0) + body)
