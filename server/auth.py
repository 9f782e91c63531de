"""Tenants and API keys.

Keys are configured hashed (sha256 hex of the key), never in clear, from a JSON file (`api_keys_file`) and/or
the env var SKETCHSERVE_API_KEYS, both a list of {"sha256": "...", "tenant": "acme", "admin": false}.
Clients send `Authorization: Bearer <key>` (the openai client does) or `X-API-Key: <key>`.

Scopes:
    admin key       every task
    tenant key      the shared task `base`, and the tasks it owns: ids `<tenant>.<name>` (a namespace per tenant, so
                    no tenant can learn whether another tenant's task exists: any foreign id answers 404)
    no keys at all  open: every caller is admin. Allowed only on a loopback host unless `allow_open` is set.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field, TypeAdapter

TENANT_PATTERN = r"^[a-z0-9][a-z0-9-]{0,31}$"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class ApiKey(BaseModel):
    sha256: str = Field(..., pattern=r"^[0-9a-f]{64}$", description="sha256 hex digest of the key")
    tenant: str = Field(..., pattern=TENANT_PATTERN)
    admin: bool = False


@dataclass(frozen=True)
class Principal:
    """Who is calling."""

    tenant: str | None  # None for admin and open mode
    admin: bool

    def owns(self, task: str) -> bool:
        """May manage (upload, delete) this task."""
        return self.admin or (self.tenant is not None and task.startswith(f"{self.tenant}."))

    def may_use(self, task: str) -> bool:
        """May generate with this task."""
        return task == "base" or self.owns(task)


OPEN = Principal(tenant=None, admin=True)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyRing:
    """The configured keys; authenticate() maps a presented key to its Principal."""

    def __init__(self, keys: list[ApiKey]) -> None:
        self._by_hash = {k.sha256: k for k in keys}

    @classmethod
    def from_settings(cls, settings) -> KeyRing:
        keys = list(settings.api_keys)
        if settings.api_keys_file is not None:
            raw = json.loads(Path(settings.api_keys_file).read_text())
            keys += TypeAdapter(list[ApiKey]).validate_python(raw.get("keys", raw) if isinstance(raw, dict) else raw)
        return cls(keys)

    @property
    def open(self) -> bool:
        return not self._by_hash

    def authenticate(self, presented: str | None) -> Principal | None:
        if self.open:
            return OPEN
        if not presented:
            return None
        digest = hash_key(presented)
        for known, key in self._by_hash.items():  # constant-time compare against each configured hash
            if hmac.compare_digest(known, digest):
                return Principal(tenant=None if key.admin else key.tenant, admin=key.admin)
        return None


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    if x_api_key:
        return x_api_key.strip()
    if authorization:
        m = re.match(r"^\s*Bearer\s+(\S+)\s*$", authorization, re.IGNORECASE)
        return m.group(1) if m else None
    return None
