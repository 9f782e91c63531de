"""The LUT store: atomic versioned puts, checksums verified at start-up with quarantine, safe task ids."""

from __future__ import annotations

import json

import pytest

from adapters.store import InvalidTaskIdError, LutStore, LutStoreError
from sketch.task_lut import TaskLutError
from tests.server.conftest import create_base, task_lut_file


@pytest.fixture
def base():
    return create_base(seed=0)


@pytest.fixture
def lut(base, tmp_path):
    return lambda seed: task_lut_file(base, "t", seed, tmp_path)


def test_put_versions_and_reopen(base, lut, tmp_path):
    store = LutStore(tmp_path / "s", base.spec())
    second = lut(2)
    v1, v2 = store.put("math", lut(1)), store.put("math", second)
    assert (v1.version, v2.version) == (1, 2) and v1.sha256 != v2.sha256
    assert store.latest("math") == v2 and store.path("math", 2).read_bytes() == second.read_bytes()
    assert v2.bytes == second.stat().st_size
    store.put("code", lut(3))
    assert [i.task for i in store.list()] == ["code", "math"]
    reopened = LutStore(tmp_path / "s", base.spec())
    assert reopened.versions("math") == [v1, v2] and not reopened.quarantined


def test_a_rejected_put_leaves_no_trace(base, lut, tmp_path):
    store = LutStore(tmp_path / "s", base.spec())
    other = create_base(seed=1)  # different codes: a LUT of another base
    with pytest.raises(TaskLutError, match="base"):
        store.put("math", task_lut_file(other, "t", 1, tmp_path))
    (tmp_path / "junk").write_bytes(b"\x00" * 100)
    with pytest.raises(TaskLutError):
        store.put("math", tmp_path / "junk")
    assert store.latest("math") is None
    assert [p.name for p in (tmp_path / "s" / "tasks" / "math").iterdir()] == []  # no temp file left behind


@pytest.mark.parametrize("task", ["", "../x", "a/b", "a\\b", ".hidden", "-x", "x" * 65, "é", "a b", "base", None])
def test_unsafe_or_reserved_task_ids_are_rejected(base, lut, tmp_path, task):
    store = LutStore(tmp_path / "s", base.spec())
    with pytest.raises(InvalidTaskIdError):
        store.put(task, lut(1))
    assert not list((tmp_path / "s" / "tasks").iterdir())


def test_corrupt_file_is_quarantined_at_start_up(base, lut, tmp_path):
    store = LutStore(tmp_path / "s", base.spec())
    store.put("math", lut(1))
    store.put("math", lut(2))
    path = store.path("math", 2)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    reopened = LutStore(tmp_path / "s", base.spec())
    assert [(q.task, q.version, q.reason) for q in reopened.quarantined] == [("math", 2, "checksum")]
    assert reopened.quarantined[0].path.exists() and not path.exists()
    assert reopened.latest("math").version == 1
    assert reopened.put("math", lut(3)).version == 3  # the number of the quarantined version is never reused


def test_verify_catches_rot_after_start_up(base, lut, tmp_path):
    store = LutStore(tmp_path / "s", base.spec())
    store.put("math", lut(1))
    store.path("math", 1).write_bytes(lut(2).read_bytes())
    with pytest.raises(LutStoreError, match="checksum"):
        store.verify("math", 1)
    assert store.latest("math") is None and len(store.quarantined) == 1


@pytest.mark.parametrize("chunked", [True, False])
def test_a_flipped_byte_in_any_chunk_fails_the_check_and_records_without_chunks_are_checked_whole(
        base, lut, tmp_path, monkeypatch, chunked):  # fmt: skip
    """put() records a SHA-256 per chunk beside the whole file's (4 KiB chunks here); verify() re-hashes the chunks on
    several threads. An index written before chunk checksums (chunked=False: its records lack them) checks the whole
    file. Either way a flipped byte in the file's middle chunk is caught, at verify() and at start-up."""
    import adapters.store as store_module

    monkeypatch.setattr(store_module, "_CHUNK", 1024)
    monkeypatch.setattr(store_module, "CHECK_CHUNK", 4096)
    store = LutStore(tmp_path / "s", base.spec())
    info = store.put("math", lut(1))
    index = tmp_path / "s" / "tasks" / "math" / "index.json"
    entry = json.loads(index.read_text())
    record = entry["versions"][0]
    assert record["chunk_bytes"] == 4096 and len(record["chunk_sha256"]) == -(-info.bytes // 4096) >= 3
    if not chunked:
        entry["versions"] = [{k: v for k, v in record.items() if not k.startswith("chunk")}]
        index.write_text(json.dumps(entry))
        store = LutStore(tmp_path / "s", base.spec())
    assert store.verify("math", 1) == store.path("math", 1) and store.latest("math") == info
    path = store.path("math", 1)
    good = path.read_bytes()
    data = bytearray(good)
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(LutStoreError, match="checksum"):
        store.verify("math", 1)
    assert store.latest("math") is None
    store.put("math", lut(2))
    path = store.path("math", 2)
    path.write_bytes(path.read_bytes()[:-1])  # a byte short: the size check
    assert [q.reason for q in LutStore(tmp_path / "s", base.spec()).quarantined] == ["checksum"]


def test_uncommitted_files_and_bad_index_are_quarantined(base, lut, tmp_path):
    store = LutStore(tmp_path / "s", base.spec())
    store.put("math", lut(1))
    task_dir = tmp_path / "s" / "tasks" / "math"
    (task_dir / "v000002.safetensors").write_bytes(lut(2).read_bytes())  # crash after rename, before index
    (task_dir / "upload.123.tmp").write_bytes(b"partial")  # crash mid-copy
    reopened = LutStore(tmp_path / "s", base.spec())
    assert [q.reason for q in reopened.quarantined] == ["uncommitted"]
    assert reopened.latest("math").version == 1 and not (task_dir / "upload.123.tmp").exists()
    (task_dir / "index.json").write_text("{not json")
    again = LutStore(tmp_path / "s", base.spec())
    assert again.latest("math") is None and again.put("math", lut(3)).version == 3


def test_delete_keeps_the_version_counter_and_old_versions_are_pruned(base, lut, tmp_path):
    store = LutStore(tmp_path / "s", base.spec(), keep_versions=2)
    for seed in range(3):
        store.put("math", lut(seed))
    assert [v.version for v in store.versions("math")] == [2, 3]
    assert not (tmp_path / "s" / "tasks" / "math" / "v000001.safetensors").exists()
    assert store.delete("math") == 2 and store.delete("math") == 0  # the two kept versions
    assert store.latest("math") is None and store.list() == []
    assert store.put("math", lut(5)).version == 4
    index = json.loads((tmp_path / "s" / "tasks" / "math" / "index.json").read_text())
    assert index["last_version"] == 4
