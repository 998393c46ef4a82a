"""End-to-end tests: a real browser (Debian's Chromium, driven by Playwright) against a live
Cadence server on its own database."""
