"""Every security header, set in one place for every response."""

from flask import Flask, request

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",  # the status page's script posts a lookup id to its own page
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


def init_app(app: Flask, onion_hostname: str | None) -> None:
    """Register the after_request hook that sets the headers."""

    @app.after_request
    def set_headers(response):
        response.headers.update(HEADERS)
        # Pages carry forms, codes and statuses: no copy may stay in a cache or the history. The
        # style, the scripts and the forms' checks are the same for everyone.
        if request.endpoint not in ("static", "checks"):
            response.headers["Cache-Control"] = "no-store"
        on_onion = request.host.split(":")[0].endswith(".onion")
        if onion_hostname and not on_onion:
            response.headers["Onion-Location"] = f"http://{onion_hostname}{request.full_path.rstrip('?')}"
        if request.is_secure and not on_onion:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response
