"""`sketchserve push-lut`, `pull-lut`, `generate`, `tasks`, `delete-task`: small clients of a running server (stdlib
HTTP)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

DEFAULT_SERVER = os.environ.get("SKETCHSERVE_URL", "http://127.0.0.1:8000")


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", default=DEFAULT_SERVER, help="server URL (env SKETCHSERVE_URL)")
    parser.add_argument("--api-key", default=os.environ.get("SKETCHSERVE_API_KEY"), help="env SKETCHSERVE_API_KEY")
    if name == "tasks":
        parser.add_argument("--json", action="store_true", help="print the server's JSON instead of a table")
        return
    parser.add_argument("--task", required=True, help="task id (generate: task@N is its kept LUT version N)")
    if name == "push-lut":
        parser.add_argument("file", help="task LUT .safetensors file (from `sketchserve finetune`)")
    elif name == "pull-lut":
        parser.add_argument("file", help="where to write the task LUT .safetensors file")
        parser.add_argument("--version", type=int, default=None, help="a kept version (default: the latest)")
    elif name == "delete-task":
        parser.add_argument("--wait", action="store_true", help="wait for the task's requests in flight to finish "
                            "instead of refusing (409) while they run")
        parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait with --wait (at most 600)")
    else:
        parser.add_argument("--prompt", required=True)
        parser.add_argument("--max-tokens", type=int, default=None, help="default: the server's (128 or its limit)")
        parser.add_argument("--temperature", type=float, default=0.0)
        parser.add_argument("--top-p", type=float, default=1.0)
        parser.add_argument("--top-k", type=int, default=0)
        parser.add_argument("--min-p", type=float, default=0.0, help="drop tokens less likely than this times the "
                            "most likely one")
        parser.add_argument("--min-tokens", type=int, default=0, help="generate at least this many tokens")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--stop", action="append", default=None, help="stop string (repeatable)")
        parser.add_argument("--repetition-penalty", type=float, default=None, help="> 1 discourages repeats")
        structured = parser.add_mutually_exclusive_group()
        structured.add_argument("--json", action="store_true", help="JSON mode: the output is a JSON object")
        structured.add_argument("--json-schema", type=Path, default=None, metavar="FILE",
                                help="structured output: the output is a value of the JSON Schema in FILE")
        structured.add_argument("--choice", action="append", default=None, metavar="TEXT",
                                help="the output is exactly one of these texts (repeatable)")
        structured.add_argument("--regex", default=None, metavar="PATTERN",
                                help="the output is a text this regular expression matches whole")
        parser.add_argument("--stream", action="store_true", help="print tokens as they arrive")


def run(name: str, args: argparse.Namespace) -> int:
    commands = {"push-lut": push_lut, "pull-lut": pull_lut, "generate": generate, "tasks": list_tasks,
                "delete-task": delete_task}
    try:
        return commands[name](args)
    except urllib.error.HTTPError as e:
        body = e.read().decode("utf-8", errors="replace")
        try:
            message = json.loads(body)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = body
        print(f"error {e.code}: {message}", file=sys.stderr)
        return 1
    except urllib.error.URLError as e:
        print(f"cannot reach {args.server}: {e.reason}", file=sys.stderr)
        return 1


def _request(args, method: str, path: str, data=None, headers: dict | None = None) -> urllib.request.Request:
    headers = dict(headers or {})
    if args.api_key:
        headers["Authorization"] = f"Bearer {args.api_key}"
    return urllib.request.Request(args.server.rstrip("/") + path, data=data, method=method, headers=headers)


def push_lut(args) -> int:
    size = os.path.getsize(args.file)
    with open(args.file, "rb") as f:  # streamed from the file, not read whole
        req = _request(args, "PUT", f"/v1/tasks/{urllib.parse.quote(args.task, safe='')}/lut", f,
                       {"Content-Type": "application/octet-stream", "Content-Length": str(size)})
        with urllib.request.urlopen(req) as resp:
            result = json.loads(resp.read())
    print(f"stored task {result['task']!r} version {result['version']} "
          f"({result['size_bytes']} bytes, sha256 {result['sha256'][:16]}...)")
    return 0


def pull_lut(args) -> int:
    """Download a stored version into args.file: streamed to a temp file beside it, checked against the ETag's
    sha256, then renamed (a failed download leaves no partial file)."""
    query = f"?version={args.version}" if args.version is not None else ""
    req = _request(args, "GET", f"/v1/tasks/{urllib.parse.quote(args.task, safe='')}/lut{query}")
    target = os.path.abspath(args.file)
    fd, tmp = tempfile.mkstemp(prefix=".pull-", suffix=".safetensors", dir=os.path.dirname(target))
    try:
        digest = hashlib.sha256()
        with urllib.request.urlopen(req) as resp, os.fdopen(fd, "wb") as f:
            while chunk := resp.read(1 << 20):
                digest.update(chunk)
                f.write(chunk)
            expected, version = resp.headers["ETag"].strip('"'), resp.headers["X-Task-Version"]
        if digest.hexdigest() != expected:
            print(f"error: the download's sha256 {digest.hexdigest()[:16]}... is not the server's", file=sys.stderr)
            return 1
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    print(f"wrote task {args.task!r} version {version} to {args.file} (sha256 {expected[:16]}...)")
    return 0


def list_tasks(args) -> int:
    """The server's tasks (those this key may use): id, version, size, resident in a GPU slot or not."""
    with urllib.request.urlopen(_request(args, "GET", "/v1/models")) as resp:
        result = json.loads(resp.read())
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    rows = [(m["id"], str(m["version"]), f"{m['size_bytes'] / 2**20:.1f}", "yes" if m["resident"] else "no")
            for m in result["data"]]  # fmt: skip
    header = ("TASK", "VERSION", "MiB", "RESIDENT")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def delete_task(args) -> int:
    query = urllib.parse.urlencode({"wait": "true", "timeout_s": args.timeout} if args.wait else {})
    path = f"/v1/tasks/{urllib.parse.quote(args.task, safe='')}" + (f"?{query}" if query else "")
    with urllib.request.urlopen(_request(args, "DELETE", path)) as resp:
        result = json.loads(resp.read())
    n = result["deleted_versions"]
    print(f"deleted task {result['task']!r} ({n} stored version{'s' if n != 1 else ''})")
    return 0


def generate(args) -> int:
    body = {"task": args.task, "prompt": args.prompt, "temperature": args.temperature, "top_p": args.top_p,
            "top_k": args.top_k, "min_p": args.min_p, "min_tokens": args.min_tokens, "stream": args.stream}
    if args.max_tokens is not None:
        body["max_tokens"] = args.max_tokens
    if args.seed is not None:
        body["seed"] = args.seed
    if args.stop:
        body["stop"] = args.stop
    if args.repetition_penalty is not None:
        body["repetition_penalty"] = args.repetition_penalty
    if args.json:
        body["response_format"] = {"type": "json_object"}
    if args.choice:
        body["guided_choice"] = args.choice
    if args.regex:
        body["guided_regex"] = args.regex
    if args.json_schema is not None:
        try:
            schema = json.loads(args.json_schema.read_text())
        except (OSError, ValueError) as e:
            print(f"error: --json-schema {args.json_schema}: {e}", file=sys.stderr)
            return 2
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "cli", "schema": schema}}
    req = _request(args, "POST", "/v1/generate", json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as resp:
        if not args.stream:
            result = json.loads(resp.read())
            print(result["text"])
            print(f"[{result['finish_reason']}; {result['usage']['completion_tokens']} tokens]", file=sys.stderr)
            return 0
        for raw in resp:
            line = raw.decode("utf-8").strip()
            if not line.startswith("data:"):
                continue
            event = json.loads(line[5:])
            if "error" in event:
                print(f"\nerror: {event['error']}", file=sys.stderr)
                return 1
            print(event.get("text", ""), end="", flush=True)
            if event.get("finish_reason"):
                print(f"\n[{event['finish_reason']}; {event['usage']['completion_tokens']} tokens]", file=sys.stderr)
    return 0
