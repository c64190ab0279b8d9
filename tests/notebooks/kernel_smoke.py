#!/usr/bin/env python3
"""Starts the `esmdb-rust` kernel the two ways a person does and runs a cell in it.

Usage: kernel_smoke.py execute|server

- execute: `jupyter execute` (the venv's) on a one-cell notebook, as from a terminal.
- server:  `scripts/notebook` (JupyterLab) on a free loopback port; the notebooks are listed through
           the contents API, a kernel is started through the REST API and a cell runs over the kernel's
           websocket, as the browser does it.

The cell is plain Rust with no `:dep`, so it compiles in seconds: what it checks is that the kernel
starts, loads a compiled cell and answers (evcxr links every cell as a shared library against the
toolchain's libstd; a kernel that cannot load it dies before its first reply). Run it from a plain
shell environment: tests/notebooks.rs starts it with cargo's variables removed.
Exit code 0 when the cell answered `42`; otherwise 1, with what went wrong on stderr.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KERNEL = "esmdb-rust"
CODE = "let answer: i64 = 40 + 2;\nanswer"
EXPECTED = "42"
TIMEOUT = int(os.environ.get("ESMDB_SMOKE_TIMEOUT", "300"))


def venv():
    return Path(os.environ.get("ESMDB_VENV", ROOT / ".venv"))


def fail(message):
    print(f"kernel_smoke: {message}", file=sys.stderr)
    return 1


def one_cell_notebook(path):
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": KERNEL, "display_name": "Rust (esmdb)", "language": "rust"}},
        "cells": [{"cell_type": "code", "id": "answer", "metadata": {}, "source": CODE, "outputs": [],
                   "execution_count": None}],
    }
    path.write_text(json.dumps(nb))


def run_execute():
    jupyter = venv() / "bin" / "jupyter"
    if not jupyter.is_file():
        return fail(f"{jupyter} is missing: run scripts/setup")
    with tempfile.TemporaryDirectory(prefix="esmdb-kernel-smoke-") as tmp:
        source = Path(tmp) / "answer.ipynb"
        one_cell_notebook(source)
        started = time.monotonic()
        proc = subprocess.run(
            [str(jupyter), "execute", f"--kernel_name={KERNEL}", "--output=executed", "--startup_timeout=300",
             f"--timeout={TIMEOUT}", str(source)],
            capture_output=True, text=True, timeout=TIMEOUT + 60,
        )
        elapsed = time.monotonic() - started
        if proc.returncode != 0:
            return fail(f"`jupyter execute` exited with {proc.returncode}:\n{proc.stderr[-4000:]}")
        executed = json.loads((Path(tmp) / "executed.ipynb").read_text())
        outputs = executed["cells"][0].get("outputs", [])
        got = ["".join(o.get("data", {}).get("text/plain", "")) for o in outputs if o.get("output_type") == "execute_result"]
        if got != [EXPECTED]:
            return fail(f"`jupyter execute` ran the cell but its result was {got!r}, not [{EXPECTED!r}]; outputs: {outputs}")
    print(f"kernel_smoke execute: `jupyter execute` ran a cell in {elapsed:.1f}s")
    return 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(base, token, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{base}{path}", data=data, method=method,
                                 headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        text = resp.read().decode()
        return json.loads(text) if text else None


def execute_over_websocket(base, token, kernel_id):
    """Sends one execute_request on the kernel's channels websocket; returns the text/plain result."""
    import websocket  # websocket-client, a dependency of jupyter-server

    ws = websocket.create_connection(f"{base.replace('http', 'ws', 1)}/api/kernels/{kernel_id}/channels",
                                     header=[f"Authorization: token {token}"], timeout=TIMEOUT)
    try:
        msg_id = uuid.uuid4().hex
        ws.send(json.dumps({
            "header": {"msg_id": msg_id, "username": "smoke", "session": uuid.uuid4().hex,
                       "msg_type": "execute_request", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": CODE, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True},
        }))
        result, errors = None, []
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            msg = json.loads(ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["header"]["msg_type"], msg.get("content", {})
            if kind == "execute_result":
                result = "".join(content.get("data", {}).get("text/plain", ""))
            elif kind == "error":
                errors.append(f"{content.get('ename')}: {content.get('evalue')}")
            elif kind == "stream" and content.get("name") == "stderr":
                errors.append(content.get("text", ""))
            elif kind == "status" and content.get("execution_state") == "idle":
                return result, errors
        raise TimeoutError(f"no reply to the cell within {TIMEOUT}s")
    finally:
        ws.close()


def log_tail(path, chars=4000):
    """The end of a log, for failure messages: a CI run keeps its output, not its files."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as e:
        return f"(cannot read {path}: {e})"
    return text[-chars:]


def stop(server):
    """Ends the server's whole process group (the server and the kernels it started)."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def run_server():
    port, token = free_port(), uuid.uuid4().hex
    base = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile(prefix="esmdb-notebook-server-", suffix=".log", delete=False)
    server = subprocess.Popen(
        [str(ROOT / "scripts" / "notebook"), "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        # Run inside `cargo test`, after the build: scripts/notebook's own build step would wait on cargo's lock.
        env={**os.environ, "ESMDB_SKIP_BUILD": "1"},
    )
    started, passed = time.monotonic(), False
    try:
        while True:
            if server.poll() is not None:
                return fail(f"scripts/notebook exited with {server.returncode}; its log ({log.name}) ends:\n"
                            f"{log_tail(log.name)}")
            try:
                http(base, token, "GET", "/api/status")
                break
            except OSError:
                if time.monotonic() - started > 300:
                    return fail(f"the notebook server did not answer on {base} within 300s; its log ({log.name}) ends:\n"
                                f"{log_tail(log.name)}")
                time.sleep(0.5)
        listed = {item["name"] for item in http(base, token, "GET", "/api/contents")["content"]}
        missing = {"quickstart.ipynb", "paper_protocol.ipynb", "incremental.ipynb"} - listed
        if missing:
            return fail(f"the server's notebook directory lacks {sorted(missing)} (it lists {sorted(listed)})")
        specs = http(base, token, "GET", "/api/kernelspecs")["kernelspecs"]
        if KERNEL not in specs:
            return fail(f"the server offers no `{KERNEL}` kernel (it has {sorted(specs)})")
        kernel = http(base, token, "POST", "/api/kernels", {"name": KERNEL})
        cell_started = time.monotonic()
        try:
            result, errors = execute_over_websocket(base, token, kernel["id"])
        except Exception as e:  # websocket-client raises its own (a timeout included)
            return fail(f"the cell got no answer ({type(e).__name__}: {e}); the server log ({log.name}) ends:\n"
                        f"{log_tail(log.name)}")
        state = http(base, token, "GET", f"/api/kernels/{kernel['id']}")["execution_state"]
        http(base, token, "DELETE", f"/api/kernels/{kernel['id']}")
        if result != EXPECTED:
            return fail(f"the cell's result was {result!r}, not {EXPECTED!r} (kernel {state}; errors: {errors}); "
                        f"the server log ({log.name}) ends:\n{log_tail(log.name)}")
        print(f"kernel_smoke server: JupyterLab up in {cell_started - started:.1f}s, "
              f"a kernel started and ran a cell in {time.monotonic() - cell_started:.1f}s")
        passed = True
        return 0
    finally:
        stop(server)
        if passed:
            os.unlink(log.name)  # kept on failure: named in the message


def main():
    modes = {"execute": run_execute, "server": run_server}
    if len(sys.argv) != 2 or sys.argv[1] not in modes:
        print(__doc__, file=sys.stderr)
        return 2
    return modes[sys.argv[1]]()


if __name__ == "__main__":
    sys.exit(main())
