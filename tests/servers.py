"""Real servers on 127.0.0.1 for tests and benches, each started on a free port and stopped by
its own handle (a thread's loop, or a subprocess's pid) — never by name.

* :class:`FaultServer` — an OpenAI-compatible chat endpoint (stdlib asyncio, HTTP/1.1 with
  keep-alive) that answers each request from a script: 429 with ``Retry-After``, 5xx, a hang
  past the client's timeout, a 200 with a broken body, a 200 with ``top_logprobs``, plain
  content, any fixed latency. It records every request (method, path, headers, JSON body) so a
  test can check the exact protocol. It runs in a thread of the test process.
* :func:`spawn_fault_server` — the same server in its own process (for benchmarks, so that the
  server does not share the client's GIL).
* :func:`llama_cpp_server` — a real ``python -m llama_cpp.server`` with the tiny test model.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

REPO_ROOT = Path(__file__).resolve().parents[1]


# -- what the server saw, and what it answers -----------------------------------------------------
@dataclass
class Seen:
    """One request as the server received it. Header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    body: Any  # parsed JSON, or None when the body was empty or not JSON
    at: float  # time.perf_counter() when the request was complete


@dataclass
class Reply:
    """One scripted answer. ``body`` may be bytes (sent as is) or any JSON value."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a hang when past the client's timeout)
    content_type: str = "application/json"

    def encode(self) -> bytes:
        payload = self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()
        reason = HTTPStatus(self.status).phrase if self.status in HTTPStatus._value2member_map_ else "Unknown"
        head = [f"HTTP/1.1 {self.status} {reason}", f"Content-Type: {self.content_type}",
                f"Content-Length: {len(payload)}"]
        head += [f"{k}: {v}" for k, v in self.headers.items()]
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload


Action = Reply | Callable[[Seen], Reply]

_COUNTER = iter(range(1, 1 << 62))


def completion(content: str = "positive", top: Sequence[tuple[str, float]] | Mapping[str, float] | None = None,
               *, model: str = "fault-model", prompt_tokens: int = 42, completion_tokens: int = 1) -> dict[str, Any]:
    """An OpenAI chat.completion body; with ``top`` the first token carries ``top_logprobs``."""
    choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": content},
                              "finish_reason": "length" if top is not None else "stop"}
    if top is not None:
        pairs = list(top.items()) if isinstance(top, Mapping) else list(top)
        first_tok, first_lp = max(pairs, key=lambda p: p[1]) if pairs else (content, 0.0)
        choice["logprobs"] = {"content": [{
            "token": first_tok, "logprob": first_lp, "bytes": list(first_tok.encode()),
            "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in pairs]}]}
    else:
        choice["logprobs"] = None
    return {"id": f"chatcmpl-{next(_COUNTER)}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [choice],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}


DEFAULT_TOP = ((" positive", -0.105), (" negative", -2.303), (" neutral", -4.6), (" The", -6.0))


def scored(top: Sequence[tuple[str, float]] | Mapping[str, float] = DEFAULT_TOP, *, content: str | None = None,
           delay: float = 0.0, **kw: Any) -> Reply:
    """200 with ``logprobs.content[0].top_logprobs``."""
    pairs = list(top.items()) if isinstance(top, Mapping) else list(top)
    text = content if content is not None else (max(pairs, key=lambda p: p[1])[0] if pairs else "")
    return Reply(body=completion(text, pairs, **kw), delay=delay)


def plain(content: str, *, delay: float = 0.0, **kw: Any) -> Reply:
    """200 with generated text and no log-probabilities (a server that does not offer them)."""
    return Reply(body=completion(content, None, **kw), delay=delay)


def rate_limited(retry_after: str | None = "1", *, delay: float = 0.0) -> Reply:
    return Reply(status=429, body={"error": {"message": "rate limited", "type": "rate_limit"}},
                 headers={"Retry-After": retry_after} if retry_after is not None else {}, delay=delay)


def server_error(status: int = 500, *, retry_after: str | None = None) -> Reply:
    return Reply(status=status, body={"error": {"message": "upstream failure", "type": "server_error"}},
                 headers={"Retry-After": retry_after} if retry_after is not None else {})


def http_error(status: int, message: str = "bad request") -> Reply:
    return Reply(status=status, body={"error": {"message": message, "type": "invalid_request_error"}})


def malformed(body: bytes = b"<html><body>502 upstream hiccup</body></html>") -> Reply:
    """200 whose body is not JSON although it says it is."""
    return Reply(status=200, body=body)


def hang(seconds: float, then: Reply | None = None) -> Reply:
    """Wait ``seconds`` before answering (the client should have given up by then)."""
    r = then or scored()
    return Reply(status=r.status, body=r.body, headers=r.headers, delay=seconds, content_type=r.content_type)


# -- the fault-injecting server ---------------------------------------------------------------------
class FaultServer:
    """An OpenAI-compatible server on 127.0.0.1:<free port>, run by an asyncio loop in a thread.

    Chat requests take the next scripted action (:meth:`script`), or ``default`` once the script
    is used up; ``latency`` is added to every chat answer. ``GET /v1/models`` always answers.
    """

    def __init__(self, default: Action | None = None, latency: float = 0.0, model: str = "fault-model") -> None:
        self.default: Action = default if default is not None else scored()
        self.latency = latency
        self.model = model
        self.requests: list[Seen] = []
        self._script: collections.deque[Action] = collections.deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()
        self.port = 0
        self.max_in_flight = 0
        self._in_flight = 0

    # public --------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *actions: Action) -> "FaultServer":
        with self._lock:
            self._script.extend(actions)
        return self

    @property
    def chat_requests(self) -> list[Seen]:
        return [r for r in list(self.requests) if r.path.endswith("/chat/completions")]

    def start(self) -> "FaultServer":
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-server", daemon=True)
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self.port = fut.result(timeout=10)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(timeout=10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> "FaultServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # inside the loop -------------------------------------------------------------------------------
    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0, backlog=1024)
        return self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for t in list(self._conns):
            t.cancel()
        if self._conns:
            await asyncio.wait(list(self._conns), timeout=5)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), timeout=5)

    def _next(self, seen: Seen) -> Reply:
        if seen.method == "GET" and seen.path.rstrip("/").endswith("/models"):
            return Reply(body={"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "tests"}]})
        if not seen.path.endswith("/chat/completions"):
            return Reply(status=404, body={"error": {"message": f"no route {seen.path}"}})
        with self._lock:
            action = self._script.popleft() if self._script else self.default
        reply = action(seen) if callable(action) else action
        if self.latency:
            reply = Reply(reply.status, reply.body, reply.headers, reply.delay + self.latency, reply.content_type)
        return reply

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _version = lines[0].split(" ", 2)
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if line:
                        k, _, v = line.partition(":")
                        headers[k.strip().lower()] = v.strip()
                n = int(headers.get("content-length") or 0)
                raw = await reader.readexactly(n) if n else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                seen = Seen(method, target.split("?", 1)[0], headers, raw, body, time.perf_counter())
                self.requests.append(seen)
                reply = self._next(seen)
                self._in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self._in_flight)
                try:
                    if reply.delay:
                        await asyncio.sleep(reply.delay)
                finally:
                    self._in_flight -= 1
                if writer.is_closing():
                    return
                writer.write(reply.encode())
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:  # stop(): asyncio.start_server would log a cancelled handler
            return
        finally:
            self._conns.discard(task)
            with contextlib.suppress(Exception):
                writer.close()


# -- the same server in its own process (benchmarks) ------------------------------------------------
@contextlib.contextmanager
def spawn_fault_server(latency: float, top: Sequence[tuple[str, float]] = DEFAULT_TOP,
                       timeout: float = 30.0) -> Iterator[str]:
    """Run a fixed-latency scoring server in a child process; yields its base URL.

    The child is stopped by its own pid (SIGTERM, then SIGKILL) when the block ends.
    """
    cmd = [sys.executable, "-m", "tests.servers", "--latency", str(latency), "--top", json.dumps(list(top))]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = _readline_with_timeout(proc, timeout)
        if not line.startswith("PORT "):
            raise RuntimeError(f"fault server did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
        yield f"http://127.0.0.1:{int(line.split()[1])}/v1"
    finally:
        _stop(proc)


def _readline_with_timeout(proc: subprocess.Popen[str], timeout: float) -> str:
    out: list[str] = []
    t = threading.Thread(target=lambda: out.append(proc.stdout.readline() if proc.stdout else ""), daemon=True)
    t.start()
    t.join(timeout)
    return out[0].strip() if out else ""


def _stop(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=grace)


def _serve_forever(latency: float, top: Sequence[tuple[str, float]]) -> None:
    """Entry point of the child process: fixed latency, a constant scored body."""
    body = completion(max(top, key=lambda p: p[1])[0], list(top))
    reply = Reply(body=json.dumps(body).encode())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    with FaultServer(default=reply, latency=latency) as s:
        s.requests = _Discard()  # a bench sends many thousands: keep nothing
        print(f"PORT {s.port}", flush=True)
        stop.wait()


class _Discard(list):  # type: ignore[type-arg]
    def append(self, _item: Any) -> None:
        return None


# -- a real llama.cpp server ------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LlamaServer:
    url: str  # base URL, ends in /v1
    model: str  # the id /v1/models reports
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def llama_cpp_server(model: str = "smollm2-135m-instruct", *, timeout: float = 60.0, n_threads: int = 2,
                     n_ctx: int = 2048, extra_args: Sequence[str] = ()) -> Iterator[LlamaServer]:
    """Start ``python -m llama_cpp.server`` with a catalogue model on a free port; kill it after.

    Skips the test (``pytest.skip``) only when llama_cpp.server cannot be imported or the model
    file is not on this machine; any other failure to start is an error with the server's log.
    """
    import httpx
    import pytest

    from labelwise.annotators.catalogue import model_path
    from labelwise.errors import ModelNotFound

    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed (pip install 'llama-cpp-python[server]')")
    try:
        path = model_path(model)
    except ModelNotFound as e:
        pytest.skip(f"test model missing: {e}")
    port = free_port()
    log_fd, log_name = tempfile.mkstemp(prefix="llama-server-", suffix=".log")
    log_path = Path(log_name)
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(path), "--host", "127.0.0.1", "--port",
           str(port), "--n_threads", str(n_threads), "--n_ctx", str(n_ctx), *extra_args]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(cmd, stdout=log_fd, stderr=subprocess.STDOUT, env=env, cwd=tempfile.gettempdir())
    os.close(log_fd)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + timeout
        model_id: str | None = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                log = log_path.read_text(errors="replace")
                if "No module named" in log or "ModuleNotFoundError" in log:
                    pytest.skip(f"llama_cpp.server is not importable: {log.strip().splitlines()[-1]}")
                raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}:\n{log[-4000:]}")
            try:
                r = httpx.get(f"{url}/models", timeout=2.0)
                if r.status_code == 200:
                    model_id = r.json()["data"][0]["id"]
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        if model_id is None:
            raise RuntimeError(f"llama_cpp.server did not answer {url}/models within {timeout}s:\n"
                               f"{log_path.read_text(errors='replace')[-4000:]}")
        yield LlamaServer(url=url, model=model_id, proc=proc, log_path=log_path)
    finally:
        _stop(proc)
        with contextlib.suppress(OSError):
            log_path.unlink()


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="a fixed-latency OpenAI-compatible scoring server")
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--top", default=json.dumps(list(DEFAULT_TOP)))
    a = ap.parse_args()
    _serve_forever(a.latency, [tuple(p) for p in json.loads(a.top)])
