"""The WSGI entry point: gunicorn 'wsgi:app' (deploy/gunicorn.conf.py)."""

from intake import create_app

app = create_app()
