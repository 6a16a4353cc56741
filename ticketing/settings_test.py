"""Settings for the test suite: the same real services, on separate Redis databases and a
separate RabbitMQ vhost so a running ``make run`` and the tests never share state."""

import os

os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/10")
os.environ.setdefault("CHANNEL_LAYER_REDIS_URL", "redis://127.0.0.1:6379/11")
os.environ.setdefault("CACHE_URL", "redis://127.0.0.1:6379/12")
os.environ.setdefault(
    "CELERY_BROKER_URL", "amqp://ticketing:ticketing@127.0.0.1:5672/ticketing_test"
)
os.environ.setdefault("THROTTLE_HOLDS", "100000/min")
os.environ.setdefault("THROTTLE_REGISTRATIONS", "100000/min")

from .settings import *  # noqa: F403

# Race tests create hundreds of users: hash their passwords fast (tests only; the subprocesses
# the tests start read this module too).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
