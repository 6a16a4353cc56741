"""The channel layer's Redis settings keep idle WebSocket consumers alive."""

import asyncio

import pytest
from channels_redis.core import RedisChannelLayer
from django.conf import settings


def test_an_idle_receive_outlasts_the_blocking_pop():
    # Regression: redis-py 8 reads with a 5 s socket timeout by default, exactly the 5 s
    # BZPOPMIN of channels-redis, so every consumer idle for 5 s crashed and its socket closed.
    async def idle_receive():
        # A layer of its own: the process-wide one may hold connections of another event loop.
        layer = RedisChannelLayer(**settings.CHANNEL_LAYERS["default"]["CONFIG"])
        channel = await layer.new_channel()
        try:
            await asyncio.wait_for(layer.receive(channel), timeout=7)
        finally:
            await layer.flush()
            await layer.close_pools()

    with pytest.raises(asyncio.TimeoutError):  # our deadline, not Redis's
        asyncio.run(idle_receive())
