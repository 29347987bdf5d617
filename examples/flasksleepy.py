"""examples/sleepy.py in Flask (Debian's python3-flask): a JSON POST that sleeps 0.2 s, for
bench/concurrency.sh APP=flasksleepy. The callable is `app`."""
import os
import time

from flask import Flask, jsonify, request

SECONDS = float(os.environ.get("SLEEPY_SECONDS", "0.2"))
app = Flask(__name__)


@app.route("/", methods=["GET", "POST"])
def index():
    doc = request.get_json(force=True, silent=True) or {}
    time.sleep(SECONDS)
    return jsonify(keys=sorted(doc) if isinstance(doc, dict) else [], pid=os.getpid())
