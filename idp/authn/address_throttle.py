"""Address throttles (``i:<factor>:<hash>`` keys of :mod:`idp.authn.throttle`) in Redis.

Why Redis for these: every failed sign-in, sign-up and reset request writes its address key,
and at national scale that is most of the writes the throttle table takes, for counts that
are allowed to be lost (an address that loses its count only gets its free failures again;
the account keys, which guard each account, never leave the database). Redis takes those
writes off PostgreSQL and shares them between any number of instances.

The rules are the database's, to the millisecond (:mod:`idp.authn.throttle`): free failures,
then blocks of 1, 2, 4... seconds up to ``THROTTLE_MAX_DELAY``, a count that starts again after
a quiet ``DECAY``. Each operation is one Lua script, which Redis runs atomically, so parallel
requests on any instance count exactly as the database's row locks make them count. Every key
expires once its count would have decayed and its block ended, so Redis does not grow.

A key is ``idp:throttle:`` + the throttle key: a keyed hash, never an address. One hash per key,
fields ``f`` (failures or requests), ``t`` (the last one, ms since the epoch), ``b`` (blocked
until, ms). Times come from the IdP's clock (:mod:`idp.clock`), as in the database path.

Every function raises :class:`idp.redis_store.Unavailable` when Redis cannot be used; the
caller then does the same work in the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from typing import cast

import redis
from redis.commands.core import Script

from idp.redis_store import PREFIX
from idp.redis_store import RedisStore

KEY_PREFIX = PREFIX + "throttle:"

# Shared by both scripts. ``count``: the key's count after one more failure (1 after a quiet
# ``decay``); ``block``: when a key with ``failures`` is blocked until (0: not blocked); ``keep``:
# expire the key once its count has decayed and its block has ended.
_FUNCTIONS = """
local function count(key, now, decay)
  local last = tonumber(redis.call('HGET', key, 't') or 0)
  if last < now - decay then return 1 end
  return tonumber(redis.call('HGET', key, 'f') or 0) + 1
end
local function block(failures, now, free, longest)
  if failures <= free then return 0 end
  return now + math.min(2 ^ math.min(failures - free - 1, 30) * 1000, longest)
end
local function keep(key, now, decay, blocked)
  redis.call('PEXPIRE', key, math.max(decay, blocked - now))
end
"""

# KEYS: the keys to count, then the keys only checked. ARGV: now (ms), decay (ms), how many KEYS
# to count, free failures, longest block (ms). Returns 0 when counted, else the longest wait (ms)
# and nothing is counted.
_RESERVE = Script(cast(Any, None), (_FUNCTIONS + """
local now, decay, counted = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local free, longest = tonumber(ARGV[4]), tonumber(ARGV[5])
local wait = 0
for _, key in ipairs(KEYS) do
  local blocked = tonumber(redis.call('HGET', key, 'b') or 0)
  if blocked - now > wait then wait = blocked - now end
end
if wait > 0 then return wait end
for i = 1, counted do
  local key = KEYS[i]
  local failures = count(key, now, decay)
  local blocked = block(failures, now, free, longest)
  redis.call('HSET', key, 'f', failures, 't', now)
  if blocked > 0 then redis.call('HSET', key, 'b', blocked) end
  keep(key, now, decay, blocked)
end
return 0
""").encode())

# KEYS: the failed keys. ARGV: now (ms), decay (ms), free failures, longest block (ms), then per
# key '1' when reserve counted it already. Returns per key: failures, the block this failure
# sets (0: none), the block now in force (0: none).
_FAIL = Script(cast(Any, None), (_FUNCTIONS + """
local now, decay = tonumber(ARGV[1]), tonumber(ARGV[2])
local free, longest = tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {}
for i, key in ipairs(KEYS) do
  local reserved = ARGV[4 + i] == '1'
  local failures
  if reserved then failures = tonumber(redis.call('HGET', key, 'f') or 0) else failures = count(key, now, decay) end
  local blocked = block(failures, now, free, longest)
  local current = tonumber(redis.call('HGET', key, 'b') or 0)
  if not reserved then
    redis.call('HSET', key, 'f', failures, 't', now)
    if blocked > 0 then redis.call('HSET', key, 'b', blocked) else redis.call('HDEL', key, 'b') end
    current = blocked
    keep(key, now, decay, current)
  elseif blocked > current then  -- never shorten a block that a later reservation set
    redis.call('HSET', key, 'b', blocked)
    current = blocked
    keep(key, now, decay, current)
  end
  table.insert(out, failures)
  table.insert(out, blocked)
  table.insert(out, current)
end
return out
""").encode())


@dataclass(frozen=True)
class Failed:
    """One key's failure, as :func:`idp.authn.throttle.failure` audits it.

    :param delay: whole seconds of the block this failure set (``None``: not blocked by it)
    :param wait: seconds until the key's block in force ends (0: not blocked)
    """

    failures: int
    delay: int | None
    wait: float


def blocked_for(store: RedisStore, keys: Sequence[str], *, now: dt.datetime) -> float:
    """Seconds until the last of the keys' blocks ends (0: none is blocked)."""
    if not keys:
        return 0.0

    def read(client: redis.Redis) -> list[Any]:
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.hget(KEY_PREFIX + key, "b")
        return cast(list[Any], pipe.execute())

    now_ms = _ms(now)
    return max([0, *(int(b) - now_ms for b in store.run(read) if b is not None)]) / 1000


def reserve(store: RedisStore, *, count: Sequence[str], check_only: Sequence[str], now: dt.datetime,
            decay: dt.timedelta, free: int, longest: int) -> float:
    """Count one request against ``count`` unless any key is blocked, atomically.

    :returns: 0 when counted, else seconds until the blocks end (and nothing was counted)
    """
    keys = [KEY_PREFIX + key for key in (*count, *check_only)]
    wait = store.run(lambda client: _RESERVE(keys=keys, args=[_ms(now), _ms_of(decay), len(count), free,
                                                               longest * 1000], client=client))
    return max(0.0, int(wait) / 1000)


def fail(store: RedisStore, keys: Sequence[str], *, reserved: Sequence[str], now: dt.datetime,
         decay: dt.timedelta, free: int, longest: int) -> dict[str, Failed]:
    """Count one failure against each key (but the ``reserved`` ones, counted already) and
    block it as due, atomically."""
    if not keys:
        return {}
    flags = ["1" if key in reserved else "0" for key in keys]
    now_ms = _ms(now)
    out = store.run(lambda client: _FAIL(keys=[KEY_PREFIX + key for key in keys],
                                         args=[now_ms, _ms_of(decay), free, longest * 1000, *flags], client=client))
    values = [int(v) for v in out]
    result = {}
    for i, key in enumerate(keys):
        failures, blocked, current = values[3 * i:3 * i + 3]
        result[key] = Failed(failures=failures, delay=(blocked - now_ms) // 1000 if blocked else None,
                             wait=max(0, current - now_ms) / 1000)
    return result


def forget(store: RedisStore, key: str) -> bool:
    """Clear one key; ``True`` when there was one."""
    return bool(store.run(lambda client: client.delete(KEY_PREFIX + key)))


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _ms_of(span: dt.timedelta) -> int:
    return int(span.total_seconds() * 1000)
