"""The signing-key store: 0600 file, attach/discard/forget, env override, live reload."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from calendly_elt.webhooks.errors import SigningKeyStoreError
from calendly_elt.webhooks.keys import SigningKey, SigningKeyStore, receiver_keys


def test_entries_round_trip_in_a_private_file(tmp_path: Path) -> None:
    store = SigningKeyStore(tmp_path / "sub" / "keys.json")
    first = SigningKey("https://a.example/hook", "key-one")
    second = SigningKey("https://b.example/hook", "key-two")
    store.add(first)
    store.add(second)
    attached = store.attach(first, "https://api.calendly.com/webhook_subscriptions/S1")
    assert [e.subscription_uri for e in store.entries()] == [attached.subscription_uri, None]
    assert store.signing_keys() == ["key-two", "key-one"]
    store.discard(second)
    assert store.forget_subscription("https://api.calendly.com/webhook_subscriptions/S1")
    assert not store.forget_subscription("https://api.calendly.com/webhook_subscriptions/S1")
    assert store.entries() == []
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert "key-one" not in repr(first) and "key-one" not in repr(store)


def test_an_unreadable_store_is_a_config_error_without_the_key(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text('{"signing_keys": [{"signing_key": "secret-value"}, 7]}')
    with pytest.raises(SigningKeyStoreError) as broken:
        SigningKeyStore(path).entries()
    assert "invalid entry" in str(broken.value) and "secret-value" not in str(broken.value)
    path.write_text("{not json")
    with pytest.raises(SigningKeyStoreError):
        SigningKeyStore(path).entries()
    assert broken.value.exit_code == 2


def test_receiver_keys_env_override_and_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SigningKeyStore(tmp_path / "keys.json")
    monkeypatch.delenv("CALENDLY_WEBHOOK_SECRET", raising=False)
    with pytest.raises(SigningKeyStoreError, match="CALENDLY_WEBHOOK_SECRET"):
        receiver_keys(store)
    store.add(SigningKey("https://a.example/hook", "key-one"))
    keys = receiver_keys(store)
    assert keys() == ["key-one"]
    store.add(SigningKey("https://b.example/hook", "key-two-longer"))  # a subscribe meanwhile
    assert keys() == ["key-two-longer", "key-one"]
    store.path.write_text("garbage that is longer than before")
    assert keys() == ["key-two-longer", "key-one"]  # unreadable: keep verifying
    monkeypatch.setenv("CALENDLY_WEBHOOK_SECRET", "from-env")
    assert receiver_keys(store)() == ["from-env"]
