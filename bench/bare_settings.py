"""Settings of the bare baseline server started by the bench (bench/bare.py).

The project's settings with only the bare hold view routed and no middleware: the floor that
every layer of the real hold path (DRF, authentication, throttling, rules) is measured against.
"""

from ticketing.settings import *  # noqa: F403

ROOT_URLCONF = "bench.bare_urls"
MIDDLEWARE = []
