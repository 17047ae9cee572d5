"""Both stores implement every job's Protocol, method for method and parameter for parameter,
so a caller typed with one narrow Protocol can be handed either store."""

from __future__ import annotations

import inspect

import pytest

from storage import interfaces
from storage.redis_store import RedisStore
from storage.sqlite_store import SqliteStore

JOBS = [
    interfaces.SecretRecords,
    interfaces.Counters,
    interfaces.KeyValues,
    interfaces.OwnerLists,
    interfaces.Timetable,
    interfaces.SecretStore,
]


def _methods(protocol: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for klass in protocol.__mro__
        if klass not in (object, interfaces.Protocol) and klass.__module__ == interfaces.__name__
        for name, member in vars(klass).items()
        if inspect.iscoroutinefunction(member)
    }


@pytest.mark.parametrize("store_class", [RedisStore, SqliteStore])
@pytest.mark.parametrize("job", JOBS, ids=lambda job: job.__name__)
def test_each_store_implements_each_job_with_the_same_parameters(store_class, job):
    wanted = _methods(job)
    assert wanted, f"{job.__name__} declares no methods"
    for name, signature in wanted.items():
        found = inspect.signature(getattr(store_class, name))
        assert list(found.parameters) == list(signature.parameters), (store_class, name)
        for param in signature.parameters.values():
            mine = found.parameters[param.name]
            assert (mine.kind, mine.default) == (param.kind, param.default), (name, param.name)


def test_the_union_is_every_job_and_nothing_unaccounted_for():
    jobs = set().union(*(_methods(job) for job in JOBS[:-1]))
    assert set(_methods(interfaces.SecretStore)) == jobs | {"ping", "close"}
    public = {
        name
        for name, member in vars(RedisStore).items()
        if inspect.iscoroutinefunction(member) and not name.startswith("_")
    }
    assert public == set(_methods(interfaces.SecretStore))
