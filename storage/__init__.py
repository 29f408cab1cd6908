"""The encrypted vault and everything that decides what leaves it.

Modules (lowest first): ``settings`` (VaultSettings), ``wav`` (PCM <-> WAV bytes in RAM),
``keys`` (members' sealed age identities), ``index`` (the SQLite file and its schema version),
``audit`` (the hash chain), ``records`` (record metadata and keyless checks), ``retention``
(expiry and capacity), ``vault`` (:class:`storage.vault.Vault`), ``verify`` (``vault verify``),
``report`` (``keepmum report``); the consent ledger, upload and export sit on top of the vault.
The on-disk format and threat model are in ``storage/README.md``.
"""

# Importing ``device`` first switches third-party telemetry off, before anything in this
# package can import onnxruntime (see device/telemetry.py).
import device  # noqa: F401

__all__: list[str] = []
