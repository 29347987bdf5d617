"""A small Flask app (Debian's python3-flask): vassal --http-socket :8080 --module flaskapp:app"""
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.route("/")
def index():
    return "Hello from Flask\n"


@app.route("/json", methods=["POST"])
def echo_json():
    data = request.get_json(force=True)
    return jsonify(received=data, method=request.method)


@app.route("/form", methods=["POST"])
def form():
    return jsonify(dict(request.form))


@app.route("/upload", methods=["POST"])
def upload():
    f = request.files["file"]
    content = f.read()
    return jsonify(name=f.filename, size=len(content))


@app.route("/hello/<name>")
def hello(name):
    return "Hello %s, args=%s\n" % (name, dict(request.args))
