"""Remote engines' API keys in the OS keychain (`keyring`), never in the preferences file or
the log. Where no keychain is available the key is held for this session only, and said so."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

SERVICE = "Parley remote engines"


class ApiKeys:
    """get / set / forget the key of a remote engine, by the engine's name."""

    def __init__(self, service: str = SERVICE) -> None:
        self.service = service
        self._session: dict[str, str] = {}      # keys no keychain would take
        self.note = ""                          # why the last key is not in the keychain

    def get(self, name: str) -> str:
        if name in self._session:
            return self._session[name]
        try:
            import keyring

            return keyring.get_password(self.service, name) or ""
        except Exception as exc:                 # noqa: BLE001 - no keychain is no key
            log.info("no key from the keychain for %r: %s", name, type(exc).__name__)
            return ""

    def set(self, name: str, key: str) -> bool:
        """Store `key` (an empty one forgets it); False when the keychain refused and the key
        is kept for this session only (`note` says why)."""
        if not key:
            self.forget(name)
            return True
        self.note = ""
        try:
            import keyring

            keyring.set_password(self.service, name, key)
        except Exception as exc:                 # noqa: BLE001 - keyring's errors vary by OS
            self._session[name] = key
            self.note = (f"No keychain would store the key ({type(exc).__name__}); it is kept "
                         "until Parley closes.")
            log.warning("the keychain refused the key of %r: %s", name, type(exc).__name__)
            return False
        self._session.pop(name, None)
        return True

    def forget(self, name: str) -> None:
        self._session.pop(name, None)
        try:
            import keyring

            keyring.delete_password(self.service, name)
        except Exception:                        # noqa: BLE001 - nothing stored is fine
            pass
