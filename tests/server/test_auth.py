"""Tenants: hashed API keys, admin vs tenant scope, 401 without a key, 404 for another tenant's task."""

import json

import pytest
from fastapi.testclient import TestClient

from server.auth import KeyRing, Principal, hash_key
from server.settings import Settings
from tests.server.api_helpers import create_test_app, tiny_base, write_task_lut

KEYS = {"admin": "sk-admin-secret", "acme": "sk-acme-secret", "globex": "sk-globex-secret"}


@pytest.fixture(scope="module")
def base():
    return tiny_base()


@pytest.fixture
def client(base, tmp_path):
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps([
        {"sha256": hash_key(KEYS["admin"]), "tenant": "ops", "admin": True},
        {"sha256": hash_key(KEYS["acme"]), "tenant": "acme"},
        {"sha256": hash_key(KEYS["globex"]), "tenant": "globex"},
    ]))
    app, _ = create_test_app(base, tmp_path, api_keys_file=keys_file)
    with TestClient(app) as c:
        yield c


def auth(who: str) -> dict:
    return {"Authorization": f"Bearer {KEYS[who]}"}


def test_no_key_or_a_wrong_key_is_401(client):
    body = {"task": "base", "prompt": "x", "max_tokens": 2}
    assert client.post("/v1/generate", json=body).status_code == 401
    r = client.post("/v1/generate", json=body, headers={"Authorization": "Bearer sk-wrong"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert client.post("/v1/generate", json=body, headers={"X-API-Key": KEYS["acme"]}).status_code == 200
    assert client.get("/health").status_code == 200  # ops endpoints stay open for probes and scrapers


def test_tenants_manage_only_their_namespace_and_cannot_see_others(client, base, tmp_path):
    lut = write_task_lut(base, tmp_path / "t.safetensors", seed=1).read_bytes()
    assert client.put("/v1/tasks/acme.qa/lut", content=lut, headers=auth("acme")).status_code == 201
    assert client.put("/v1/tasks/globex.qa/lut", content=lut, headers=auth("acme")).status_code == 403
    assert client.put("/v1/tasks/globex.qa/lut", content=lut, headers=auth("globex")).status_code == 201
    # globex's view of acme's task is indistinguishable from a task that does not exist
    for method, path, kw in [
        ("GET", "/v1/tasks/acme.qa", {}),
        ("GET", "/v1/tasks/acme.qa/lut", {}),
        ("GET", "/v1/models/acme.qa", {}),
        ("DELETE", "/v1/tasks/acme.qa", {}),
        ("POST", "/v1/generate", {"json": {"task": "acme.qa", "prompt": "x", "max_tokens": 2}}),
        ("POST", "/v1/completions", {"json": {"model": "acme.qa", "prompt": "x", "max_tokens": 2}}),
    ]:
        foreign = client.request(method, path, headers=auth("globex"), **kw)
        missing = client.request(method, path.replace("acme.qa", "acme.nope"), headers=auth("globex"),
                                 **json.loads(json.dumps(kw).replace("acme.qa", "acme.nope")))
        assert foreign.status_code == missing.status_code == 404
        assert foreign.json()["error"]["message"].replace("acme.qa", "X") == \
            missing.json()["error"]["message"].replace("acme.nope", "X")
    ids = {m["id"] for m in client.get("/v1/models", headers=auth("globex")).json()["data"]}
    assert ids == {"base", "globex.qa"}
    admin_ids = {m["id"] for m in client.get("/v1/models", headers=auth("admin")).json()["data"]}
    assert admin_ids == {"base", "acme.qa", "globex.qa"}
    assert client.delete("/v1/tasks/acme.qa", headers=auth("admin")).status_code == 200


def test_open_mode_only_on_loopback(base, tmp_path):
    assert KeyRing([]).authenticate(None) == Principal(tenant=None, admin=True)
    with pytest.raises(ValueError, match="not loopback"):
        create_test_app(base, tmp_path, host="0.0.0.0")
    create_test_app(base, tmp_path / "b", host="0.0.0.0", allow_open=True)


def test_keys_from_env_are_hashed_json(monkeypatch):
    monkeypatch.setenv("SKETCHSERVE_API_KEYS", json.dumps([{"sha256": hash_key("k1"), "tenant": "t1"}]))
    ring = KeyRing.from_settings(Settings())
    assert ring.authenticate("k1") == Principal(tenant="t1", admin=False)
    assert ring.authenticate("k2") is None


def test_a_flooding_tenant_gets_429_while_another_tenant_is_served(base, tmp_path, monkeypatch):
    """One tenant's waiting requests over all its tasks (base included) are bounded by three quarters of the
    admission queue: past that its requests get 429 tenant_queue_full, and another tenant is still served, on base
    too, as a flow of its own (scheduler.flow_of)."""
    from server.errors import TenantQueueFullError
    from tests.server.api_helpers import flood_until_refused, slow_steps

    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps([{"sha256": hash_key(KEYS[t]), "tenant": t} for t in ("acme", "globex")]))
    app, engine = create_test_app(base, tmp_path, api_keys_file=keys_file, max_waiting=8, max_num_seqs=1)
    slow_steps(engine, monkeypatch)
    with TestClient(app) as client:
        lut = write_task_lut(base, tmp_path / "a.safetensors", seed=1, task="acme.a").read_bytes()
        assert client.put("/v1/tasks/acme.a/lut", content=lut, headers=auth("acme")).status_code == 201
        flood = flood_until_refused(engine, ["base", "acme.a"], TenantQueueFullError, tenant="acme")
        assert engine.stats().waiting == 6  # (neither task reached 6 alone)
        body = {"task": "acme.a", "prompt": "one more", "max_tokens": 2}
        r = client.post("/v1/generate", json=body, headers=auth("acme"))
        assert r.status_code == 429 and r.json()["error"]["code"] == "tenant_queue_full", r.text
        assert r.headers["retry-after"] == "1" and "'acme'" in r.json()["error"]["message"]
        # the same base task as acme's waiting requests, but a flow of its own: next in, not behind acme's queue
        r = client.post("/v1/generate", json=body | {"task": "base"}, headers=auth("globex"))
        assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 2, r.text
        for handle in flood:
            handle.cancel()
