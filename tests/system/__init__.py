"""The whole system: real intake serve, real Chromium, the wheel, a service account."""
