"""The core service's promises, on both stores."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot import crypto
from bot.errors import BrokenLink, InvalidSecret, NotCreator, SecretGone, WrongPassphrase
from bot.service import CLI_CREATOR, MAX_SECRET_BYTES, SecretService
from tests.support.clock import FakeClock
from tests.support.links import parse_link


def service_on(store) -> SecretService:
    return SecretService(store, public_url="https://secrets.example.com/", max_ttl=86400)


def proofs(link: str, passphrase: str | None = None) -> tuple[bytes, bytes]:
    parts = parse_link(link)
    pass_key = crypto.passphrase_key(passphrase, parts.secret_id)
    return (
        crypto.derive_link_proof(parts.link_key, parts.secret_id),
        crypto.derive_keys(parts.link_key, pass_key, parts.secret_id).auth,
    )


async def test_link_has_the_contract_format_and_reveals_once(store):
    service = service_on(store)
    created = await service.create("hunter2", ttl=60)
    assert (
        created.link
        == f"https://secrets.example.com/s/{created.secret_id}#" + (created.link.split("#")[1])
    )
    assert len(created.link.split("#")[1]) == crypto.KEY_LENGTH
    revealed = await service.reveal(created.secret_id, *proofs(created.link))
    keys = crypto.derive_keys(parse_link(created.link).link_key, b"", created.secret_id)
    assert crypto.unseal(revealed.nonce, revealed.ciphertext, keys.enc_key, created.secret_id) == (
        b"hunter2"
    )
    with pytest.raises(SecretGone):
        await service.reveal(created.secret_id, *proofs(created.link))


async def test_truncated_link_never_burns_and_uses_no_attempts(store):
    service = service_on(store)
    created = await service.create("s3cret!", ttl=60, passphrase="open sesame")
    parts = parse_link(created.link)
    wrong_key = parts.link_key[:-1] + bytes([parts.link_key[-1] ^ 1])
    for _ in range(10):
        with pytest.raises(BrokenLink):
            await service.reveal(
                created.secret_id,
                crypto.derive_link_proof(wrong_key, created.secret_id),
                b"\x00" * 32,
            )
    assert (await service.status(created.secret_id)).attempts_left == 5
    await service.reveal(created.secret_id, *proofs(created.link, "open sesame"))


async def test_wrong_passphrase_counts_down_then_destroys(store):
    service = service_on(store)
    created = await service.create("s3cret!", ttl=60, passphrase="open sesame")
    link_proof, _ = proofs(created.link, "open sesame")
    for left in (4, 3, 2, 1):
        _, wrong_auth = proofs(created.link, f"guess {left}")
        with pytest.raises(WrongPassphrase) as caught:
            await service.reveal(created.secret_id, link_proof, wrong_auth)
        assert caught.value.attempts_left == left
    with pytest.raises(SecretGone):
        await service.reveal(created.secret_id, link_proof, proofs(created.link, "guess 0")[1])
    with pytest.raises(SecretGone):
        await service.reveal(created.secret_id, *proofs(created.link, "open sesame"))


async def test_knowing_only_the_id_can_neither_read_nor_burn(store):
    service = service_on(store)
    created = await service.create("only the id leaked", ttl=60)
    for _ in range(20):
        guess = crypto.new_link_key()
        with pytest.raises(BrokenLink):
            await service.reveal(
                created.secret_id,
                crypto.derive_link_proof(guess, created.secret_id),
                crypto.derive_keys(guess, b"", created.secret_id).auth,
            )
    with pytest.raises(NotCreator):
        await service.burn(created.secret_id, "someone else")
    await service.reveal(created.secret_id, *proofs(created.link))


async def test_creator_burns_and_the_link_is_dead(store):
    service = service_on(store)
    created = await service.create("burn me", ttl=60, creator="T1:U1")
    await service.burn(created.secret_id, "T1:U1")
    with pytest.raises(SecretGone):
        await service.reveal(created.secret_id, *proofs(created.link))
    with pytest.raises(SecretGone):
        await service.burn(created.secret_id, "T1:U1")


@pytest.mark.parametrize(
    ("text", "ttl", "passphrase", "says"),
    [
        ("", 60, None, "empty"),
        ("   \n\t", 60, None, "empty"),
        ("x" * (MAX_SECRET_BYTES + 1), 60, None, "too long"),
        ("é" * (MAX_SECRET_BYTES // 2 + 1), 60, None, "too long"),
        ("ok", 86401, None, "expiry"),
        ("ok", 0, None, "expiry"),
        ("ok", 60, "short", "passphrase is too short"),
    ],
)
async def test_bad_input_is_refused_with_a_reason_and_nothing_stored(
    store, text, ttl, passphrase, says
):
    service = service_on(store)
    with pytest.raises(InvalidSecret, match=says):
        await service.create(text, ttl=ttl, passphrase=passphrase)


async def test_receipt_listener_hears_of_reveal_without_secret_material(store):
    service = service_on(store)
    heard = []

    async def listener(receipt):
        heard.append(receipt)

    service.on_revealed(listener)
    created = await service.create("top secret", ttl=60, creator="T1:U1", metadata='{"n":1}')
    await service.reveal(created.secret_id, *proofs(created.link))
    await service.drain()
    assert len(heard) == 1
    assert heard[0].creator == "T1:U1" and heard[0].metadata == '{"n":1}'
    assert "top secret" not in repr(heard[0])


class HeldListWrites:
    """The store, but each write to a creator's list waits until `release` is set."""

    def __init__(self, store) -> None:
        self._store = store
        self.release = asyncio.Event()
        self.writes = 0

    def __getattr__(self, name):
        return getattr(self._store, name)

    async def keep_entry(self, *args):
        self.writes += 1
        await self.release.wait()
        return await self._store.keep_entry(*args)


async def test_the_core_marks_a_tracked_reveal_on_the_list_after_answering_with_no_edge(store):
    held = HeldListWrites(store)
    service = service_on(held)  # no listener registered: nothing but the core routes it
    created = await service.create("x", ttl=60, creator="T1:UA", metadata='{"n":1}', track=True)
    await service.reveal(created.secret_id, *proofs(created.link))  # answered, list write held
    assert not service.idle  # the list's step was started, after the answer
    held.release.set()
    await service.drain()
    assert held.writes == 1
    [listed] = await service.my_secrets("T1:UA")
    assert (listed.secret_id, listed.outcome, listed.metadata) == (
        created.secret_id,
        "revealed",
        '{"n":1}',
    )


async def test_a_reveal_with_no_creator_to_tell_starts_no_work(store):
    held = HeldListWrites(store)
    service = service_on(held)
    heard = []

    async def listener(receipt):
        heard.append(receipt)

    service.on_revealed(listener)
    for creator, track in (("", False), ("", True), (CLI_CREATOR, False), (CLI_CREATOR, True)):
        created = await service.create("x", ttl=60, creator=creator, track=track)
        await service.reveal(created.secret_id, *proofs(created.link))
        assert service.idle, creator  # no task at all: not the list's, not a listener's
    assert heard == [] and held.writes == 0
    assert await service.my_secrets(CLI_CREATOR) == []


async def test_a_secret_with_no_creator_to_tell_is_never_listed_nor_timed(store):
    clock = FakeClock()
    heard = []

    async def listener(notice):
        heard.append(notice)

    service = SecretService(store, public_url="https://s.example", max_ttl=86400, clock=clock)
    service.on_expired(listener)
    await service.create("x", ttl=60, creator=CLI_CREATOR, track=True)
    assert await service.my_secrets(CLI_CREATOR) == []
    clock.advance(200)
    assert await service.sweep_expired() == 0
    assert service.idle and heard == []


def test_created_secret_repr_hides_the_link():
    from bot.service import CreatedSecret

    created = CreatedSecret("AAECAwQFBgcICQoLDA0ODw", "https://x/s/AAECAwQFBgcICQoLDA0ODw#KEY", 1.0)
    assert "KEY" not in repr(created) and "AAECAwQFBgcICQoLDA0ODw" not in repr(created)


async def test_bound_secret_opens_only_for_its_holder_and_never_from_the_link(store):
    service = service_on(store)
    created = await service.create("for bob only", ttl=60, creator="T1:UA", bound_to="T1:UB")
    with pytest.raises(BrokenLink):  # the browser's path: the plain link proof
        await service.reveal(created.secret_id, *proofs(created.link))
    with pytest.raises(BrokenLink):  # someone else who holds the key
        await service.reveal_for(created.secret_id, created.key, "T1:UC")
    mangled = created.key[:-2] + ("B" if created.key[-2] != "B" else "C") + created.key[-1]
    with pytest.raises(BrokenLink):  # the right person with a mangled key
        await service.reveal_for(created.secret_id, mangled, "T1:UB")
    assert (await service.status(created.secret_id)).attempts_left == 5
    assert await service.reveal_for(created.secret_id, created.key, "T1:UB") == "for bob only"
    with pytest.raises(SecretGone):
        await service.reveal_for(created.secret_id, created.key, "T1:UB")


async def test_bound_secret_with_passphrase_counts_wrong_tries(store):
    service = service_on(store)
    created = await service.create("pp", ttl=60, passphrase="open sesame", bound_to="T1:UB")
    with pytest.raises(WrongPassphrase) as wrong:
        await service.reveal_for(created.secret_id, created.key, "T1:UB", "open sesamE")
    assert wrong.value.attempts_left == 4
    assert await service.reveal_for(created.secret_id, created.key, "T1:UB", "open sesame") == "pp"


async def test_creators_list_shows_waiting_then_each_outcome_without_secret_material(store):
    clock = FakeClock()
    service = SecretService(store, public_url="https://s.example", max_ttl=86400, clock=clock)
    kept = await service.create(
        "pw-kept-1", ttl=600, creator="T1:UA", metadata='{"n":"wifi"}', track=True
    )
    shown = await service.create("pw-shown-2", ttl=600, creator="T1:UA", track=True)
    clock.advance(1)
    burned = await service.create("pw-burned-3", ttl=600, creator="T1:UA", track=True)
    await service.create("someone else's", ttl=600, creator="T1:UZ", track=True)
    await service.create("untracked", ttl=600, creator="T1:UA")
    await service.reveal(shown.secret_id, *proofs(shown.link))
    await service.burn(burned.secret_id, "T1:UA")
    await service.drain()
    listed = {s.secret_id: s for s in await service.my_secrets("T1:UA")}
    assert set(listed) == {kept.secret_id, shown.secret_id, burned.secret_id}
    assert [s.secret_id for s in await service.my_secrets("T1:UA")][0] == burned.secret_id
    assert listed[kept.secret_id].outcome == "waiting"
    assert listed[kept.secret_id].metadata == '{"n":"wifi"}'
    assert listed[shown.secret_id].outcome == "revealed"
    assert listed[burned.secret_id].outcome == "burned"
    raw = b"".join((await store.entries("T1:UA", clock.now)).values())
    for created in (kept, shown, burned):
        assert created.key.encode() not in raw
    for plaintext in (b"pw-kept-1", b"pw-shown-2", b"pw-burned-3"):
        assert plaintext not in raw


async def test_expiry_is_announced_once_for_unread_secrets_only(store):
    clock = FakeClock()
    heard = []

    async def listener(notice):
        heard.append(notice)

    service = SecretService(store, public_url="https://s.example", max_ttl=86400, clock=clock)
    service.on_expired(listener)
    unread = await service.create(
        "unread", ttl=60, creator="T1:UA", metadata='{"n":"x"}', track=True
    )
    read = await service.create("read", ttl=60, creator="T1:UA", track=True)
    await service.create("untracked", ttl=60, creator="T1:UA")
    await service.create("no creator", ttl=60, track=True)
    await service.reveal(read.secret_id, *proofs(read.link))
    await service.drain()
    assert await service.sweep_expired(clock.now + 61) == 0  # within the grace period
    clock.advance(120)
    assert await service.sweep_expired() == 1
    assert await service.sweep_expired() == 0
    await service.drain()
    assert [(n.secret_id, n.creator, n.metadata) for n in heard] == [
        (unread.secret_id, "T1:UA", '{"n":"x"}')
    ]
    outcomes = {s.secret_id: s.outcome for s in await service.my_secrets("T1:UA")}
    assert outcomes == {unread.secret_id: "expired", read.secret_id: "revealed"}


async def test_a_sweep_announces_more_expiries_than_one_batch(store):
    from bot.service import SWEEP_BATCH

    clock = FakeClock()
    heard = []

    async def listener(notice):
        heard.append(notice.secret_id)

    service = SecretService(store, public_url="https://s.example", max_ttl=86400, clock=clock)
    service.on_expired(listener)
    made = [
        (await service.create("x", ttl=60, creator="T1:UA", track=True)).secret_id
        for _ in range(SWEEP_BATCH + 20)
    ]
    clock.advance(200)
    assert await service.sweep_expired() == SWEEP_BATCH + 20
    await service.drain()
    assert sorted(heard) == sorted(made)


async def test_a_bound_secret_stored_before_the_binding_key_still_opens_for_its_holder(store):
    """Such a record is unmarked and its proof was made from the key and the identity alone:
    its recipient's Slack click still opens it, and no one else's."""
    from storage.base import SecretRecord

    service = service_on(store)
    secret_id, link_key, now = crypto.new_secret_id(), crypto.new_link_key(), time.time()
    keys = crypto.derive_keys(link_key, b"", secret_id)
    nonce, ciphertext = crypto.seal(b"stored last week", keys.enc_key, secret_id)
    proof = crypto.derive_unkeyed_holder_proof(link_key, secret_id, "T1:UB")
    await store.save(
        SecretRecord(secret_id, 1, nonce, ciphertext, crypto.verifier(proof),
                     crypto.verifier(keys.auth), False, now, now + 60, "T1:UA")
    )  # fmt: skip
    key = crypto.b64encode(link_key)
    with pytest.raises(BrokenLink):
        await service.reveal_for(secret_id, key, "T1:UC")
    assert (await service.status(secret_id)).attempts_left == 5
    assert await service.reveal_for(secret_id, key, "T1:UB") == "stored last week"


async def test_a_bound_secret_needs_the_services_binding_key(store):
    """Another process with another binding key cannot open it, even for its holder: every
    process that reveals bound secrets must share one key (BINDING_KEY)."""
    ours = SecretService(store, public_url="https://s", max_ttl=60, binding_key=b"k" * 32)
    theirs = SecretService(store, public_url="https://s", max_ttl=60, binding_key=b"x" * 32)
    twin = SecretService(store, public_url="https://s", max_ttl=60, binding_key=b"k" * 32)
    created = await ours.create("bound", ttl=60, bound_to="T1:UB")
    with pytest.raises(BrokenLink):
        await theirs.reveal_for(created.secret_id, created.key, "T1:UB")
    assert await twin.reveal_for(created.secret_id, created.key, "T1:UB") == "bound"


async def test_with_the_link_and_a_copy_of_the_store_passphrase_guesses_are_offline(store):
    """What docs/SECURITY.md admits: the stored verifier answers any guess made with the
    link, with no attempt counted; each guess costs PBKDF2's 600,000 rounds, nothing else."""
    service = service_on(store)
    created = await service.create("guard me", ttl=60, passphrase="correct horse")
    stored = await stored_verifier(store, created.secret_id)
    parts = parse_link(created.link)

    def guess_matches(guess: str) -> bool:
        pass_key = crypto.passphrase_key(guess, parts.secret_id)
        auth = crypto.derive_keys(parts.link_key, pass_key, parts.secret_id).auth
        return crypto.verifier(auth) == stored

    assert [guess_matches(g) for g in ("wrong horse", "correct horse")] == [False, True]
    assert (await service.status(created.secret_id)).attempts_left == 5
    assert crypto.PBKDF2_ITERATIONS == 600_000


async def stored_verifier(store, secret_id: str) -> bytes:
    """The `verifier` as a copy of the store holds it."""
    from storage.redis_store import RedisStore, record_key

    if isinstance(store, RedisStore):
        from storage import redis_record

        raw = await store._redis.get(record_key(secret_id))
        return redis_record.unpack(secret_id, raw)[0].verifier
    return await store._run(
        lambda conn: conn.execute(
            "SELECT verifier FROM secrets WHERE id = ?", (secret_id,)
        ).fetchone()[0]
    )


def test_the_passphrase_minimum_counts_characters_after_nfc_for_every_edge():
    """One rule: the Slack form asks SecretService.passphrase_too_short, create refuses the
    same passphrases."""
    decomposed = "e\u0301" * 5  # five é typed as letter + accent: ten code points
    assert SecretService.passphrase_too_short(decomposed)
    assert not SecretService.passphrase_too_short(decomposed + "x")
    assert not SecretService.passphrase_too_short("") and not SecretService.passphrase_too_short(
        None
    )


async def test_create_refuses_exactly_the_passphrases_the_rule_calls_too_short(store):
    service = service_on(store)
    with pytest.raises(InvalidSecret, match="passphrase is too short"):
        await service.create("x", ttl=60, passphrase="e\u0301" * 5)
    assert await service.create("x", ttl=60, passphrase="e\u0301" * 5 + "x")
