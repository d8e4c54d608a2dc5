"""The baseline: a bare Flask POST handler that parses the same form and answers a small page."""

from flask import Flask, request

app = Flask(__name__)


@app.post("/<lang>/individual")
def individual(lang):
    """Read the form, as the real handler must, and answer."""
    return f"<p>{len(request.form)} fields</p>"


@app.post("/<lang>/organisation")
def organisation(lang):
    """Read every uploaded file to its end and throw it away (Werkzeug spools it to a temp file)."""
    total = 0
    for upload in request.files.getlist("attachments"):
        while piece := upload.stream.read(2**16):
            total += len(piece)
    return f"<p>{len(request.form)} fields, {total} bytes</p>"


@app.post("/<lang>/status")
def status(lang):
    """Read the code from the form, as the real lookup must, and answer."""
    return f"<p>{len(request.form.get('reference_code', ''))}</p>"
