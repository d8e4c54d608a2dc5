"""The baseline: a bare Flask POST handler that parses the same form and answers a small page."""

from flask import Flask, request

app = Flask(__name__)


@app.post("/<lang>/individual")
def individual(lang):
    """Read the form, as the real handler must, and answer."""
    return f"<p>{len(request.form)} fields</p>"
