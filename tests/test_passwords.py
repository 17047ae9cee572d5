from __future__ import annotations

import pytest

from bot import passwords


def test_default_password_is_long_mixed_and_unambiguous():
    for _ in range(200):
        password = passwords.generate()
        assert len(password) == 20
        assert not set(password) & set("0Oo1lI")
        for group in (passwords.LOWER, passwords.UPPER, passwords.DIGITS, passwords.SYMBOLS):
            assert set(password) & set(group)


def test_no_symbols_and_lengths():
    password = passwords.generate(64, symbols=False)
    assert len(password) == 64 and not set(password) & set(passwords.SYMBOLS)
    assert len({passwords.generate(8) for _ in range(100)}) == 100


@pytest.mark.parametrize("length", [0, 7, 129])
def test_length_out_of_range_is_refused(length):
    with pytest.raises(ValueError, match="from 8 to 128"):
        passwords.generate(length)
