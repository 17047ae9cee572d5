"""Redis store: one packed string per secret with a native TTL; reveal and burn in Lua.

Lua runs atomically on the server, so compare-and-delete cannot interleave with another
process's reveal: exactly one caller ever gets the ciphertext. Keys carry the id as a hash
tag (`oncelink:{id}:s`) so every multi-key step would stay on one slot in a Redis Cluster.
The byte layout is in storage/redis_record.py.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from string import Template
from typing import TypeVar, cast
from urllib.parse import urlsplit

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import Sentinel
from redis.exceptions import ClusterError, RedisClusterException, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from storage import redis_record
from storage.base import (
    BurnOutcome,
    Listing,
    RevealOutcome,
    RevealResult,
    SecretExists,
    SecretRecord,
    SecretStatus,
    StoreUnavailable,
)
from storage.deadlines import Deadlines
from storage.redis_pipe import PipelinedRedis, Script

# KEYS[1] record; ARGV: link verifier, verifier, attempt limit, 1 when a record bound to
# one person may be revealed (their own Slack click), and the caller's now (unix ms).
# Anything but 1 is a link reveal, which a bound record refuses as a broken link before any
# proof is compared: no proof, however it was made, opens a bound secret through a link.
# Returns {0} gone, {1} broken link, {2, attempts_left} wrong passphrase, {3, record}.
# Only the head is read until the verifiers match: a wrong link copies nothing big.
# Public: bench.baselines runs it too, in the least a reveal can do (a link reveal).
# The $names are the record's byte positions (`LUA_POSITIONS`).
REVEAL_SCRIPT_TEMPLATE = """
local head = redis.call('GETRANGE', KEYS[1], 0, $expires_at_last)
if head == '' then return {0} end
$expired_by_argv5
if ARGV[4] ~= '1' and math.floor(string.byte(head, $flags_at) / $bound) % 2 == 1 then
  return {1}
end
if string.sub(head, $link_verifier_from, $link_verifier_to) ~= ARGV[1] then return {1} end
if string.sub(head, $verifier_from, $verifier_to) ~= ARGV[2] then
  local failed = string.byte(head, $failed_at) + 1
  local left = tonumber(ARGV[3]) - failed
  if left <= 0 then redis.call('DEL', KEYS[1]); return {2, 0} end
  redis.call('SETRANGE', KEYS[1], $failed_offset, string.char(failed))
  return {2, left}
end
return {3, redis.call('GETDEL', KEYS[1])}
"""
CHANGED_BY_REVEAL = 2  # reveal replies from this code on changed the record (counted, deleted)

# KEYS[1] record; ARGV: creator, the caller's now (unix ms). Returns 0 gone, 1 burned, 2
# not the creator.
BURN_SCRIPT_TEMPLATE = """
local head = redis.call('GETRANGE', KEYS[1], 0, $expires_at_last)
if head == '' then return 0 end
$expired_by_argv2
local high, low = string.byte(head, $creator_length_at, $creator_length_at + 1)
local length = high * 256 + low
local creator = redis.call('GETRANGE', KEYS[1], $creator_offset, $creator_before + length)
if creator ~= ARGV[1] then return 2 end
redis.call('DEL', KEYS[1])
return 1
"""


def lua_positions() -> dict[str, int]:
    """Where the scripts read and write the packed record, from storage/redis_record.py's
    layout: `_offset`/`_last` are GETRANGE's and SETRANGE's 0-based bytes, `_at`/`_from`/
    `_to` Lua's 1-based string positions. Both scripts read the head up to the expiry."""
    offsets, sizes = redis_record.OFFSETS, redis_record.SIZES
    return {
        "failed_offset": offsets["failed"],
        "failed_at": offsets["failed"] + 1,
        "link_verifier_from": offsets["link_verifier"] + 1,
        "link_verifier_to": offsets["link_verifier"] + sizes["link_verifier"],
        "verifier_from": offsets["verifier"] + 1,
        "verifier_to": offsets["verifier"] + sizes["verifier"],
        "flags_offset": offsets["flags"],
        "flags_at": offsets["flags"] + 1,
        "bound": redis_record.BOUND,
        "creator_length_at": offsets["creator_length"] + 1,
        "expires_at_from": offsets["expires_at"] + 1,
        "expires_at_to": offsets["expires_at"] + sizes["expires_at"],
        "expires_at_last": offsets["expires_at"] + sizes["expires_at"] - 1,
        "creator_offset": redis_record.HEAD_SIZE,
        "creator_before": redis_record.HEAD_SIZE - 1,
    }


def _expired_check(now_argv: int, gone: str) -> str:
    """Lua that answers `gone` when the head's expiry is at or before ARGV[now_argv]: the
    caller's clock decides, as in SQLite, not only Redis's own expiry of the key (which may
    run a moment behind, and which a caller looking at a time to come never sees). Eight
    bytes of big-endian ms read as a Lua number: exact, as ms since 1970 stay below 2^53."""
    return Template(
        "local expires = 0\n"
        "for i = $expires_at_from, $expires_at_to do\n"
        "  expires = expires * 256 + string.byte(head, i)\n"
        "end\n"
        f"if expires <= tonumber(ARGV[{now_argv}]) then return {gone} end"
    ).substitute(LUA_POSITIONS)


LUA_POSITIONS = lua_positions()
REVEAL_SCRIPT = Template(REVEAL_SCRIPT_TEMPLATE).substitute(
    LUA_POSITIONS, expired_by_argv5=_expired_check(5, "{0}")
)
_REVEAL = Script(REVEAL_SCRIPT)  # the reveal as the shared connection runs it
_BURN = Template(BURN_SCRIPT_TEMPLATE).substitute(
    LUA_POSITIONS, expired_by_argv2=_expired_check(2, "0")
)

# KEYS[1] a small value; ARGV[1] the value it must hold to be deleted.
_DELETE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS[1] counter; ARGV[1] window in ms. One round trip, and the counter never outlives it.
_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count
"""

# KEYS[1] an owner's list (a hash); ARGV: entry id, "keep_until|value", ms to keep.
# The hash lives as long as its longest-kept entry.
_KEEP = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local wanted = tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < wanted then redis.call('PEXPIRE', KEYS[1], wanted) end
"""

# KEYS: record, its owner's list, the timetable. ARGV: packed record, expiry (unix ms),
# entry id, "keep_until|value", ms to keep the list, due item, due time. `_KEEP` and a ZADD
# after the SET, in one step. Not for a Cluster, where the three keys are on three slots.
_SAVE_WITH_LISTING = """
if not redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2], 'NX') then return 0 end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
local wanted = tonumber(ARGV[5])
if redis.call('PTTL', KEYS[2]) < wanted then redis.call('PEXPIRE', KEYS[2], wanted) end
redis.call('ZADD', KEYS[3], ARGV[7], ARGV[6])
return 1
"""

# KEYS[1] an owner's list; ARGV[1] now (whole seconds). Drops entries past their time.
_ENTRIES = """
local all = redis.call('HGETALL', KEYS[1])
local kept = {}
for i = 1, #all, 2 do
  local keep_until = tonumber(string.match(all[i + 1], '^(%d+)|'))
  if keep_until and keep_until > tonumber(ARGV[1]) then
    kept[#kept + 1] = all[i]; kept[#kept + 1] = all[i + 1]
  else
    redis.call('HDEL', KEYS[1], all[i])
  end
end
return kept
"""

# KEYS[1] the timetable (a sorted set by due time); ARGV: now, how many. Read and remove in
# one step, so two processes can never both claim an item.
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return due
"""
TIMETABLE_KEY = "oncelink:due"

log = logging.getLogger(__name__)

PERSISTENCE_SETTINGS = ("appendonly", "appendfsync", "save", "no-appendfsync-on-rewrite")
RECOMMENDED = "set appendonly yes and appendfsync always (docs/SECURITY.md, Exactly once)"

T = TypeVar("T")

_OUTAGES = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    ClusterError,  # a cluster without a quorum or mid-failover, or no node reachable
    RedisClusterException,
)
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
SENTINEL_SCHEMES = {"redis+sentinel": "redis", "rediss+sentinel": "rediss"}
COMMAND_TIMEOUT = 1.5  # seconds for one store step, so Slack's 3-second window holds
REPLICA_WAIT_MS = 500  # how long a save or a delete waits for a replica to confirm it
MAX_CONNECTIONS = 1000  # per process; well under Redis's default maxclients of 10000


class Unconfirmed(StoreUnavailable):
    """The primary made the change, no replica confirmed it in time: a failover could undo
    it, so nothing that depends on it is handed out."""


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else value or ""


def persistence_risk(config: dict[str, str]) -> str | None:
    """Why a restart (a crash, kill -9, a power cut) could undo a delete that Redis already
    acknowledged, so that a revealed secret is there again; None when it cannot. With an
    append-only file Redis reloads that file, not a snapshot, so snapshots only matter
    without one. Without any persistence a restart loses every secret and brings back none."""
    if config.get("appendonly") == "yes":
        fsync = config.get("appendfsync", "")
        if fsync != "always":
            return (
                f"appendfsync is {fsync}, so a crash can undo the last second or more of "
                f"reveals; {RECOMMENDED}"
            )
        if config.get("no-appendfsync-on-rewrite") == "yes":
            return (
                "no-appendfsync-on-rewrite is yes, so a crash while Redis rewrites its files "
                "can undo reveals; set it to no"
            )
        return None
    if config.get("save"):
        return (
            "it writes snapshots (save) without an append-only file, so a restart brings "
            f"back every secret revealed since the last snapshot; {RECOMMENDED}"
        )
    return None


def _ms(now: float) -> str:
    """The caller's time for a script, in the record's unit (ms since 1970)."""
    return repr(now * 1000)


def kv_key(key: str) -> str:
    return f"oncelink:kv:{{{key}}}"


def entries_key(owner: str) -> str:
    return f"oncelink:mine:{{{owner}}}"


def record_key(secret_id: str) -> str:
    return f"oncelink:{{{secret_id}}}:s"


class RedisStore:
    """Production store: safe for any number of app processes on one Redis."""

    def __init__(
        self,
        client: Redis | RedisCluster,
        replicas_to_wait: int = 0,
        pipe: PipelinedRedis | None = None,
    ) -> None:
        self._redis = client
        # A standalone Redis: the reveal paths' commands share one connection (redis_pipe).
        self._pipe = pipe
        # With a replicated primary (Sentinel), a save is acknowledged only once a replica
        # has it too, so a failover right after the ack cannot lose the secret.
        self._replicas_to_wait = replicas_to_wait
        # redis-py's cluster client, used concurrently before it has mapped the slots, ran
        # some scripts twice (a rate counter counted 52 of 50 hits): map them first, once.
        # A single Redis is asked about its persistence then (`_start`).
        self._ready = False
        self._init_lock = asyncio.Lock()
        self._deadlines = Deadlines(COMMAND_TIMEOUT)
        self._reveal = client.register_script(REVEAL_SCRIPT)
        self._burn = client.register_script(_BURN)
        self._hit = client.register_script(_HIT)
        self._delete_if = client.register_script(_DELETE_IF)
        self._keep = client.register_script(_KEEP)
        self._save_with_listing = client.register_script(_SAVE_WITH_LISTING)
        self._entries = client.register_script(_ENTRIES)
        self._claim = client.register_script(_CLAIM)

    @classmethod
    def from_url(cls, url: str, max_connections: int = MAX_CONNECTIONS) -> RedisStore:
        scheme, _, rest = url.partition("://")
        if scheme in SENTINEL_SCHEMES:
            return cls.from_sentinel_url(url, max_connections)
        if scheme in CLUSTER_SCHEMES:
            # Every key this store touches carries its id (or counter) in a hash tag, so each
            # script runs on one slot: the cluster client routes it to the right node.
            cluster = RedisCluster.from_url(
                f"{CLUSTER_SCHEMES[scheme]}://{rest}",
                socket_timeout=1.5,
                socket_connect_timeout=1.0,
                max_connections=max_connections,
            )
            return cls(cluster)
        # redis-py's default pool refuses a 101st concurrent command. A blocking pool waits
        # instead, but its per-command timeout bookkeeping cost 20% of a reveal (bench/), so
        # this is a plain pool with room for a burst of concurrent commands per process.
        # Short timeouts: during an outage Slack still needs an answer within 3 seconds. The
        # command timeout is `_run`'s, not redis-py's socket_timeout, which wraps every write
        # in asyncio.wait_for: a task per command, ~10% of a reveal (bench/).
        pool = ConnectionPool.from_url(
            url,
            max_connections=max_connections,
            socket_timeout=None,
            socket_connect_timeout=1.0,
            health_check_interval=15,
        )
        return cls(Redis.from_pool(pool), pipe=PipelinedRedis.for_url(url))

    @classmethod
    def from_sentinel_url(cls, url: str, max_connections: int = MAX_CONNECTIONS) -> RedisStore:
        """`redis+sentinel://host:port[,host:port…]/service[/db]`: the primary that the
        sentinels name, followed through failovers (redis-py asks them again when the
        connection to the old primary fails)."""
        parts = urlsplit(url)
        hosts = [hostport.rsplit(":", 1) for hostport in parts.netloc.split(",") if hostport]
        path = [piece for piece in parts.path.split("/") if piece]
        if not hosts or not path:
            raise ValueError("redis+sentinel URL needs host:port and /service_name")
        sentinel = Sentinel(  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
            [(host, int(port or 26379)) for host, port in hosts],
            sentinel_kwargs={
                "socket_timeout": 1.0,
                "socket_connect_timeout": 1.0,
                "max_connections": max_connections,  # the primary is looked up per connection
            },
        )
        client = sentinel.master_for(
            path[0],
            db=int(path[1]) if len(path) > 1 else 0,
            ssl=SENTINEL_SCHEMES[parts.scheme] == "rediss",
            socket_timeout=1.5,
            socket_connect_timeout=1.0,
            max_connections=max_connections,
        )
        return cls(client, replicas_to_wait=1)

    async def _start(self) -> None:
        """Before the first step: a cluster's slots mapped; a single Redis (or Sentinel's
        primary) asked whether a restart could undo a reveal."""
        async with self._init_lock:
            if not self._ready:
                try:
                    if isinstance(self._redis, RedisCluster):
                        await self._redis.initialize()
                    else:
                        await self._deadlines.run(self._check_persistence)
                except _OUTAGES as exc:
                    raise StoreUnavailable("redis did not answer") from exc
                self._ready = True

    async def _check_persistence(self) -> None:
        """One warning when a restart could bring a revealed secret back. Once per process,
        at its first step, so an outage at start-up only postpones it."""
        try:
            found = await self._redis.config_get(*PERSISTENCE_SETTINGS)
        except ResponseError as exc:
            if str(exc).startswith("LOADING"):  # replaying its files: ask again next step
                raise StoreUnavailable("redis is loading") from exc
            # Managed services often rename or forbid CONFIG: say so, and go on.
            log.info("Redis persistence not checked (CONFIG GET is refused); %s", RECOMMENDED)
            return
        # decode_responses is off: names and values come as bytes (typed loosely by redis-py)
        risk = persistence_risk({_text(name): _text(value) for name, value in found.items()})
        if risk:
            log.warning("Redis can bring a revealed secret back after a restart: %s", risk)

    async def _run(self, command: Callable[[], Awaitable[T]]) -> T:
        """One step against Redis, after `_start` has run once; outages reported as
        StoreUnavailable."""
        if not self._ready:
            await self._start()
        try:
            # One bound for the whole step. A step cut short leaves its connection mid-reply;
            # redis-py then drops that connection instead of reusing it.
            return await self._deadlines.run(command)
        except _OUTAGES as exc:  # TimeoutError is an OSError
            raise StoreUnavailable("redis did not answer") from exc

    async def save(self, record: SecretRecord, listing: Listing | None = None) -> None:
        key = record_key(record.secret_id)
        packed = redis_record.pack(record)
        expiry = math.ceil(record.expires_at * 1000)

        async def write(client: Redis | RedisCluster) -> bool:
            # SET with PXAT and NX: the record and its expiry in one atomic command, and
            # never over a record kept under the same id (of two racing saves, one wins).
            if listing is None:
                return bool(await client.set(key, packed, pxat=expiry, nx=True))
            if isinstance(client, RedisCluster):  # three keys, three slots
                if not await client.set(key, packed, pxat=expiry, nx=True):
                    return False
                await self._keep_listed(client, listing, record.created_at)
                return True
            # one keyspace: the three keys may live in one script
            return await self._save_listed(client, key, packed, expiry, listing, record.created_at)

        async def command() -> None:
            try:
                saved = await self._confirmed(write, lambda saved: saved)
            except Unconfirmed:
                await self._redis.delete(key)  # never keep a secret whose link nobody got
                raise
            if not saved:
                raise SecretExists(record.secret_id)

        await self._run(command)

    async def _confirmed(
        self,
        write: Callable[[Redis | RedisCluster], Awaitable[T]],
        changed: Callable[[T], bool],
        *,
        lone_primary_ok: bool = False,
    ) -> T:
        """`write`, then, with replicas to wait for, WAIT until they hold what it changed.

        A save is acknowledged, and a reveal hands out its record, only after this: a
        failover right after the answer can neither lose a saved secret nor bring back a
        revealed one. WAIT counts the writes of the connection it is sent on, so both go
        through one connection taken for the purpose, never two from the pool.

        `lone_primary_ok` (deletes): with no replica connected at all, as after a failover
        until the old primary returns, a delete is as durable as the primary's own
        persistence. Refusing every reveal until a replica is back would keep secrets from
        their recipients; a save, which loses nothing by waiting, still needs a replica."""
        if not self._replicas_to_wait:
            return await write(self._redis)
        # Replicas are waited for only behind Sentinel, whose primary is a plain Redis.
        assert not isinstance(self._redis, RedisCluster)
        async with self._redis.client() as connection:
            result = await write(connection)
            if changed(result):
                wanted = self._replicas_to_wait
                if lone_primary_ok:
                    replication = await connection.info("replication")
                    wanted = min(wanted, int(replication.get("connected_slaves", 0)))
                if wanted and await connection.wait(wanted, REPLICA_WAIT_MS) < wanted:
                    raise Unconfirmed("no replica confirmed the change in time")
            return result

    async def _save_listed(
        self, client: Redis, key: str, packed: bytes, expiry: int, listing: Listing, now: float
    ) -> bool:
        """The record, its list entry and its timetable item in one script: one round trip,
        all or nothing, and a third of the client-side work of a three-command pipeline."""
        entry_value, keep_ms = self._entry_args(listing.keep_until, listing.entry, now)
        saved = await self._save_with_listing(
            keys=[key, entries_key(listing.owner), TIMETABLE_KEY],
            args=[packed, expiry, listing.entry_id, entry_value, keep_ms, listing.due_item,
                  repr(listing.due)],
            client=client,
        )  # fmt: skip
        return bool(saved)

    async def reveal(
        self,
        secret_id: str,
        link_verifier: bytes,
        verifier: bytes,
        now: float,
        *,
        max_attempts: int,
        bound_allowed: bool = False,
    ) -> RevealResult:
        keys = [record_key(secret_id)]
        args: list[bytes | int | str] = [
            link_verifier,
            verifier,
            max_attempts,
            1 if bound_allowed else 0,
            _ms(now),
        ]
        if self._replicas_to_wait:
            reply = await self._run(
                lambda: self._confirmed(
                    lambda client: self._reveal(keys=keys, args=args, client=client),
                    lambda reply: int(reply[0]) >= CHANGED_BY_REVEAL,
                    lone_primary_ok=True,
                )
            )
        elif self._pipe is not None:  # the usual case, kept to one call: on a standalone
            # Redis, durability is its persistence's (appendfsync always writes the delete to
            # disk before replying)
            pipe = self._pipe
            reply = await self._run(lambda: pipe.evalsha(_REVEAL, keys, args))
        else:
            reply = await self._run(lambda: self._reveal(keys=keys, args=args))
        code = int(reply[0])
        if code == 0:
            return RevealResult(RevealOutcome.GONE)
        if code == 1:
            return RevealResult(RevealOutcome.BROKEN_LINK)
        if code == 2:
            attempts_left = int(reply[1])
            outcome = RevealOutcome.WRONG_PASSPHRASE if attempts_left else RevealOutcome.GONE
            return RevealResult(outcome, attempts_left=attempts_left)
        record, _ = redis_record.unpack(secret_id, reply[1])
        return RevealResult(RevealOutcome.REVEALED, record=record)

    async def burn(self, secret_id: str, creator: str, now: float) -> BurnOutcome:
        code = int(
            await self._run(
                lambda: self._confirmed(
                    lambda client: self._burn(
                        keys=[record_key(secret_id)], args=[creator, _ms(now)], client=client
                    ),
                    lambda code: int(code) == 1,
                    lone_primary_ok=True,
                )
            )
        )
        return {0: BurnOutcome.GONE, 1: BurnOutcome.BURNED, 2: BurnOutcome.NOT_CREATOR}[code]

    async def status(self, secret_id: str, now: float, *, max_attempts: int) -> SecretStatus | None:
        key, last = record_key(secret_id), redis_record.HEAD_SIZE - 1
        pipe = self._pipe
        head = await self._run(
            (lambda: pipe.execute("GETRANGE", key, 0, last))
            if pipe is not None
            else (lambda: self._redis.getrange(key, 0, last))
        )
        if len(head) < redis_record.HEAD_SIZE:
            return None
        failed, has_passphrase, expires_at = redis_record.unpack_head(cast(bytes, head))
        if expires_at <= now:
            return None
        return SecretStatus(
            has_passphrase=has_passphrase,
            expires_at=expires_at,
            attempts_left=max_attempts - failed,
        )

    async def count_hit(self, key: str, window: int, now: float) -> int:
        counter = f"oncelink:rl:{{{key}}}:{int(now // window)}"
        return int(await self._run(lambda: self._hit(keys=[counter], args=[window * 1000])))

    async def put(self, key: str, value: bytes, expires_at: float | None = None) -> None:
        expiry = math.ceil(expires_at * 1000) if expires_at else None
        await self._run(lambda: self._redis.set(kv_key(key), value, pxat=expiry))

    async def get(self, key: str, now: float) -> bytes | None:
        value = await self._run(lambda: self._redis.get(kv_key(key)))
        return cast(bytes | None, value)  # decode_responses is off: bytes, never str

    async def take(self, key: str, now: float) -> bytes | None:
        value = await self._run(lambda: self._redis.getdel(kv_key(key)))
        return cast(bytes | None, value)

    async def delete(self, key: str) -> None:
        await self._run(lambda: self._redis.delete(kv_key(key)))

    async def delete_if(self, key: str, value: bytes) -> bool:
        deleted = await self._run(lambda: self._delete_if(keys=[kv_key(key)], args=[value]))
        return bool(deleted)

    async def _keep_listed(
        self, client: Redis | RedisCluster, listing: Listing, now: float
    ) -> None:
        await self._keep_entry(
            client, listing.owner, listing.entry_id, listing.entry, listing.keep_until, now
        )
        await client.zadd(TIMETABLE_KEY, {listing.due_item: listing.due})

    async def _keep_entry(
        self,
        client: Redis | RedisCluster,
        owner: str,
        entry_id: str,
        value: bytes,
        keep_until: float,
        now: float,
    ) -> None:
        """One entry on an owner's list, written through `client`."""
        entry_value, keep_ms = self._entry_args(keep_until, value, now)
        await self._keep(
            keys=[entries_key(owner)], args=[entry_id, entry_value, keep_ms], client=client
        )

    @staticmethod
    def _entry_args(keep_until: float, value: bytes, now: float) -> tuple[bytes, int]:
        """The stored "keep_until|value" (whole seconds) and the ms to keep it from `now`."""
        whole = math.ceil(keep_until)
        keep_ms = max(1, math.ceil((whole - now) * 1000))
        return f"{whole}|".encode() + value, keep_ms

    async def keep_entry(
        self, owner: str, entry_id: str, value: bytes, keep_until: float, now: float
    ) -> None:
        await self._run(
            lambda: self._keep_entry(self._redis, owner, entry_id, value, keep_until, now)
        )

    async def entries(self, owner: str, now: float) -> dict[str, bytes]:
        flat = await self._run(lambda: self._entries(keys=[entries_key(owner)], args=[int(now)]))
        return {flat[i].decode(): flat[i + 1].partition(b"|")[2] for i in range(0, len(flat), 2)}

    async def add_due(self, item: str, due: float) -> None:
        await self._run(lambda: self._redis.zadd(TIMETABLE_KEY, {item: due}))

    async def claim_due(self, now: float, limit: int = 100) -> list[str]:
        due = await self._run(lambda: self._claim(keys=[TIMETABLE_KEY], args=[now, limit]))
        return [item.decode() for item in due]

    async def ping(self) -> None:
        try:
            await self._run(self._redis.ping)
        except RedisError as exc:  # e.g. LOADING while Redis replays its append-only file
            raise StoreUnavailable("redis is not ready") from exc

    async def purge_expired(self, now: float) -> int:
        return 0  # Redis expires keys itself

    async def close(self) -> None:
        if self._pipe is not None:
            await self._pipe.close()
        await self._redis.aclose()
