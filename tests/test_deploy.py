"""The nginx-and-replicas recipe, run for real: scripts/serve.sh starts 2 app processes and Debian's
nginx on loopback, and Chromium talks to nginx only. Every page loads, Train gives the classic
numbers, a student stays on one process, and when a process stops its students (and new ones) are
served by the other with their URL state. Plus the container recipes' config, checked statically.

Which process served a request is read from nginx's access log (upstream=, key=): that is where the
websocket shows up too, not only the HTML. Stickiness is by a cookie nginx hands out (not by client
address: on loopback, and behind a school's NAT, every student has the same address), so each
browser context here is one student with its own cookie, and the test picks students whose cookies
land on each process by asking nginx, not by assuming how its hash falls."""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from browser import ROOT, chromium, free_port, load, open_page, skip_or_fail, wait_idle


DEPLOY = ROOT / "deploy"
SECURITY_HEADERS = {
    "x-frame-options": "SAMEORIGIN",
    "content-security-policy": "frame-ancestors 'self'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
}
LOG_LINE = re.compile(r'^(?P<addr>\S+) \[[^]]*\] "(?P<method>\S+) (?P<uri>\S+) [^"]*" (?P<status>\d+) \d+ '
                      r'upstream=(?P<upstream>.*?) key=(?P<key>\S+) ')
# The template's per-address limits (deploy/nginx/nnviz.conf.template), checked against nginx itself below
UPLOAD_BODY_MAX = 1040 * 1024  # client_max_body_size of the upload route
UPLOAD_BURST = 60  # limit_req burst of uploads (nodelay: burst + 1 pass at once)
WS_CONN_MAX = 300  # limit_conn per address on /_stcore/stream



def nginx_path() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def _port_pair() -> int:
    """A free loopback port p with p + 1 free too (serve.sh puts the apps on consecutive ports)."""
    for _ in range(50):
        p = free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p + 1))
                return p
            except OSError:
                continue
    raise RuntimeError("no two consecutive free ports")


class Stack:
    """scripts/serve.sh 2, in its own process group, stopped with SIGTERM as a teacher's Ctrl-C."""

    def __init__(self, nginx: str) -> None:
        self.run_dir = Path(tempfile.mkdtemp(prefix="nnviz-deploy-test-"))
        self.port, self.app_port = free_port(), _port_pair()
        self.url = f"http://127.0.0.1:{self.port}"
        self.backends = [f"127.0.0.1:{self.app_port}", f"127.0.0.1:{self.app_port + 1}"]
        self.out = open(self.run_dir / "serve.out", "w+")
        env = {"NNVIZ_WARM": "0", **os.environ, "PYTHON": sys.executable, "NGINX": nginx}  # no background warm-up
        self.proc = subprocess.Popen(
            ["bash", str(ROOT / "scripts" / "serve.sh"), "2", "--port", str(self.port),
             "--app-port", str(self.app_port), "--run-dir", str(self.run_dir)],
            cwd=ROOT, env=env, stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 120
        while time.time() < deadline and self.proc.poll() is None:
            if f"open {self.url}/" in (self.run_dir / "serve.out").read_text():
                return
            time.sleep(0.3)
        text = (self.run_dir / "serve.out").read_text()
        self.stop()
        raise RuntimeError(f"scripts/serve.sh did not come up:\n{text}")

    def log(self, since: int = 0) -> list[dict]:
        """Access-log lines from byte offset `since`; served_by is the process that answered."""
        text = (self.run_dir / "access.log").read_bytes()[since:].decode()
        lines = [m.groupdict() for m in map(LOG_LINE.search, text.splitlines()) if m]
        for line in lines:
            line["served_by"] = line["upstream"].split(", ")[-1]
        return lines

    def log_size(self) -> int:
        return (self.run_dir / "access.log").stat().st_size

    def stop_app(self, backend: str) -> None:
        port = backend.rsplit(":", 1)[1]
        pid = int((self.run_dir / f"app-{port}.pid").read_text())
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 20
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", int(port))) != 0:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"the app on {backend} did not stop")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # serve.sh's trap stops nginx and the apps
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group this test started
                self.proc.wait(5)
        self.out.close()
        shutil.rmtree(self.run_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def nginx():
    exe = nginx_path()
    if exe is None:
        skip_or_fail("no nginx found (apt-get install nginx)")
    return exe


@pytest.fixture(scope="module")
def stack(nginx):
    s = Stack(nginx)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser(nginx):
    yield from chromium()


def _wait_log(stack, ok, since: int = 0, timeout: float = 10) -> list[dict]:
    """The access log from `since` once ok(lines) holds (a websocket's line comes when it closes);
    [] if it never does."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        lines = stack.log(since)
        if ok(lines):
            return lines
        time.sleep(0.2)
    return []


def _student(browser):
    """One student: a browser context of their own (their own cookies)."""
    return browser.new_context(viewport={"width": 1400, "height": 1000})


def _open(ctx, url: str, content: str = "[data-testid='stPlotlyChart']"):
    return open_page(ctx, url, content, size=None)


def _assert_full_app(page, errors):
    assert page.locator("[data-testid='stTopNavLink']").count() >= 2, "page navigation missing"
    assert page.locator("[data-testid='stException']").count() == 0, page.locator(
        "[data-testid='stException']").first.inner_text()
    assert not errors, errors


def _slider(page, label: str) -> str:
    return page.locator("[data-testid='stSlider']", has_text=label).get_by_role("slider").input_value()


def _metric(page, label: str) -> str:
    box = page.locator("[data-testid='stMetric']", has=page.locator(
        "[data-testid='stMetricLabel']", has_text=label)).first
    return box.locator("[data-testid='stMetricValue']").inner_text()


PAGES = [
    ("/", "[data-testid='stPageLink']"),
    ("/activations", "[data-testid='stPlotlyChart']"),
    ("/losses", "[data-testid='stPlotlyChart']"),
    ("/vanishing", "[data-testid='stPlotlyChart']"),
    ("/regression", "[data-testid='stPlotlyChart']"),
]


def test_every_page_loads_through_nginx(browser, stack, tmp_path):
    ctx = _student(browser)
    page = ctx.new_page()  # one tab, as a student goes from page to page (each load is a new session)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    for path, content in PAGES:
        response = load(page, stack.url + path, content)
        _assert_full_app(page, errors)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (path, name, response.headers)
        if path == "/losses":  # an upload is tied to the session: it must reach the same process
            csv = tmp_path / "points.csv"
            csv.write_text("".join(f"{i},{2 * i + 1}\n" for i in range(20)) + "19,-30\n")
            page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(csv))
            page.wait_for_selector("[data-testid='stCaptionContainer']:has-text('Your data: 21 points')",
                                   timeout=30_000)
            wait_idle(page)
            _assert_full_app(page, errors)
    ctx.close()
    # the websocket went through nginx (upgraded: 101; logged when it closes) and HTML is compressed
    assert _wait_log(stack, lambda log: any(l["uri"] == "/_stcore/stream" and l["status"] == "101" for l in log))
    req = urllib.request.Request(stack.url + "/", headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.headers.get("Content-Encoding") == "gzip"


def test_train_through_nginx_gives_the_classic_run(browser, stack):
    ctx = _student(browser)
    page, errors, _ = _open(ctx, stack.url + "/regression?lr=0.01&epochs=1000")
    page.locator(".st-key-train button").first.click()
    page.wait_for_selector("[data-testid='stAlert']:has-text('Trained 1000 epochs')", timeout=60_000)
    wait_idle(page)
    _assert_full_app(page, errors)
    assert _metric(page, "weight") == "0.6968" and _metric(page, "bias") == "0.3025"
    ctx.close()


# Protocol-level clients for the per-address limits. Each test speaks from its own loopback address
# (127.0.0.2, .3, ...: Linux routes all of 127/8 to lo), so the limits it spends are not the
# browser's (127.0.0.1) nor another test's, and a second address shows the limit is per address.

def _request(port: int, source: str, method: str, path: str, body: bytes = b"", length: int | None = None,
             headers: dict[str, str] | None = None) -> int:
    """One HTTP/1.1 request from `source` on a new connection; the response's status. length: a
    Content-Length without sending the body (nginx answers 413 from the headers alone)."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    head += f"Content-Length: {len(body) if length is None else length}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=60, source_address=(source, 0)) as s:
        s.sendall(head.encode() + (body if length is None else b""))
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1])


def _multipart(size: int) -> tuple[bytes, str]:
    """A browser-like upload body: one CSV file part of `size` bytes."""
    boundary = "----nnvizTestBoundary7MA4YWxkTrZu0gW"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="points.csv"\r\n'
            f"Content-Type: text/csv\r\n\r\n").encode() + b"1,2\n" * (size // 4) + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _from(stack, addr: str, since: int) -> list[dict]:
    return [line for line in stack.log(since) if line["addr"] == addr]


def test_upload_body_over_the_limit_is_refused_by_nginx(stack):
    """The app's largest upload (1 MiB of CSV, as .streamlit/config.toml allows) passes nginx to a
    process; a body past the upload route's limit gets 413 from nginx, which never reads it nor
    passes it on; every other route takes no body at all."""
    port = int(stack.url.rsplit(":", 1)[1])
    src, since = "127.0.0.5", stack.log_size()
    upload = f"/_stcore/upload_file/{'0' * 36}/{'1' * 36}"  # a session and file id the app never issued
    body, kind = _multipart(1024 * 1024)
    assert len(body) <= UPLOAD_BODY_MAX
    assert _request(port, src, "PUT", upload, body, headers={"Content-Type": kind}) != 413
    assert _request(port, src, "PUT", upload, length=UPLOAD_BODY_MAX + 1) == 413
    assert _request(port, src, "PUT", upload, length=20 * 1024 * 1024) == 413
    assert _request(port, src, "POST", "/", length=64 * 1024) == 413
    assert _wait_log(stack, lambda _: len(_from(stack, src, since)) >= 4, since)
    # each line is written when its request ends, by whichever of nginx's workers served it: in any order
    passed = [l for l in _from(stack, src, since) if l["status"] != "413"]
    refused = [l for l in _from(stack, src, since) if l["status"] == "413"]
    assert len(passed) == 1 and len(refused) == 3, (passed, refused)
    assert passed[0]["upstream"] in stack.backends  # the 1 MiB file reached a process
    assert all(l["upstream"] == "-" for l in refused), refused  # the refusals never did


def test_an_upload_flood_from_one_address_gets_429_after_the_burst(stack):
    """100 uploads at once from one address (issue 22's flood was 900 in 2.4 s): the first
    UPLOAD_BURST + 1 pass nginx (a class uploading together), then nginx answers 429 itself; another
    address still uploads. Not a timing test: the rate refills one upload every 2 s, so 100 requests
    would have to take over a minute for fewer than half the rest to be refused."""
    port = int(stack.url.rsplit(":", 1)[1])
    src, since = "127.0.0.2", stack.log_size()
    upload = f"/_stcore/upload_file/{'0' * 36}/{'1' * 36}"
    body, kind = _multipart(100)
    statuses = [_request(port, src, "PUT", upload, body, headers={"Content-Type": kind}) for _ in range(100)]
    first, rest = statuses[:UPLOAD_BURST + 1], statuses[UPLOAD_BURST + 1:]
    assert 429 not in first, statuses  # the app's own answer to a bogus session is a 4xx, never 429
    assert rest.count(429) >= len(rest) // 2, statuses
    # a DELETE (no body) is not counted, and another address is not limited by this one's flood
    assert _request(port, src, "DELETE", upload) != 429
    assert _request(port, "127.0.0.6", "PUT", upload, body, headers={"Content-Type": kind}) != 429
    assert _wait_log(stack, lambda _: len(_from(stack, src, since)) >= 101, since)
    refused = [l for l in _from(stack, src, since) if l["status"] == "429"]
    assert len(refused) == statuses.count(429) and all(l["upstream"] == "-" for l in refused), refused


def test_websockets_per_address_are_capped_by_limit_conn(stack):
    """WS_CONN_MAX requests held open on /_stcore/stream from one address (each waits for a body
    that never comes, so nginx counts it as a connection in progress, as it does an open websocket,
    and no process sees it); the next one from that address gets 429 and nginx logs limit_conn as
    the reason; another address is not limited."""
    port = int(stack.url.rsplit(":", 1)[1])
    src = "127.0.0.3"
    held: list[socket.socket] = []
    try:
        for _ in range(WS_CONN_MAX):
            s = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(src, 0))
            s.sendall(b"GET /_stcore/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\n\r\n")
            held.append(s)
        # nginx counts a held request once a worker has read its headers (the last may still be on its way
        # through another worker): the next one is refused once they all are, within a few tries
        deadline, status = time.monotonic() + 10, None
        while status != 429 and time.monotonic() < deadline:
            status = _request(port, src, "GET", "/_stcore/stream")
            if status != 429:
                time.sleep(0.1)
        assert status == 429
        assert _request(port, "127.0.0.4", "GET", "/_stcore/stream") != 429
        import select
        answered, _, _ = select.select(held, [], [], 0)
        # every held one is still in progress, but for one that a loaded nginx read only after a probe got in:
        # it was then past the websocket route's burst of 300 and refused (429) too
        assert len(answered) <= 2 and all(s.recv(64).split(b" ")[1] == b"429" for s in answered), answered
    finally:
        for s in held:
            s.close()
    errors = (stack.run_dir / "error.log").read_text()
    assert f"limiting connections by zone \"nnviz_ws_conn\", client: {src}" in errors
    assert "[emerg]" not in errors, errors  # e.g. serve.sh's NGINX variable read by nginx as inherited sockets


def _nginx_with_secret(nginx: str, run_dir: Path, backends: list[str], secret: str):
    """A second nginx from the same template over the stack's processes, with the given secret."""
    sys.path.insert(0, str(DEPLOY))
    from render_nginx import main_conf

    run_dir.mkdir()
    (run_dir / "tmp").mkdir()
    port = free_port()
    conf = main_conf(run_dir, f"127.0.0.1:{port}", backends, workers="1", secret=secret)
    assert f'hash "{secret}$nnviz_affinity" consistent;' in conf
    (run_dir / "nginx.conf").write_text(conf)
    proc = subprocess.Popen([nginx, "-e", str(run_dir / "error.log"), "-p", f"{run_dir}/",
                             "-c", str(run_dir / "nginx.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    return proc, port


def test_a_client_cannot_pick_its_process_with_a_forged_cookie(nginx, stack, tmp_path):
    """The affinity hash includes a per-deployment secret: the serve.sh config's key has one, and
    40 cookie values a client makes up land on processes that change with the secret (two nginx
    over the same two processes, differing only in the secret), while each value stays on one
    process under one secret (stickiness). Without the secret the mapping would be the same for
    every deployment with these `server` lines, computable by the client."""
    conf = (stack.run_dir / "nginx.conf").read_text()
    assert re.search(r'^\s*hash "[0-9a-f]{32}\$nnviz_affinity" consistent;$', conf, re.M), conf
    forged = [f"forged-{i}" for i in range(40)]
    where: list[dict[str, str]] = []
    for name, secret in (("one", "a" * 32), ("two", "b" * 32)):
        proc, port = _nginx_with_secret(nginx, tmp_path / name, stack.backends, secret)
        try:
            url = f"http://127.0.0.1:{port}/_stcore/health"
            deadline = time.time() + 20
            while True:
                try:
                    urllib.request.urlopen(url, timeout=5).read()
                    break
                except OSError:
                    assert proc.poll() is None and time.time() < deadline, (tmp_path / name / "error.log").read_text()
                    time.sleep(0.1)
            for value in forged + forged[:10]:  # ten of them twice: the same process again
                req = urllib.request.Request(url, headers={"Cookie": f"nnviz_affinity={value}"})
                with urllib.request.urlopen(req, timeout=10) as r:
                    assert r.read() == b"ok" and not r.headers.get("Set-Cookie", "").startswith("nnviz_affinity=")
        finally:
            proc.terminate()
            proc.wait(10)
        seen: dict[str, set[str]] = {}
        for line in map(LOG_LINE.search, (tmp_path / name / "access.log").read_text().splitlines()):
            if line and line["key"] in forged:
                seen.setdefault(line["key"], set()).add(line["upstream"])
        assert set(seen) == set(forged) and all(len(u) == 1 for u in seen.values()), seen  # sticky
        where.append({k: next(iter(u)) for k, u in seen.items()})
    for mapping in where:
        assert set(mapping.values()) == set(stack.backends), mapping  # forged values spread over both
    moved = [k for k in forged if where[0][k] != where[1][k]]
    assert len(moved) >= 5, (where, "the secret does not change where a forged cookie lands")


def _student_on(browser, stack, backend: str, tries: int = 16):
    """A new student (browser context) whose cookie nginx hashes to `backend`. The cookie comes
    from nginx's own Set-Cookie; a cheap health request then shows where the key lands."""
    for _ in range(tries):
        ctx = _student(browser)
        ctx.request.get(stack.url + "/_stcore/health")  # no cookie yet: nginx sets one
        key = next(c["value"] for c in ctx.cookies() if c["name"] == "nnviz_affinity")
        since = stack.log_size()
        ctx.request.get(stack.url + "/_stcore/health")
        served = [l["served_by"] for l in stack.log(since) if l["key"] == key]
        if served == [backend]:
            return ctx, key
        ctx.close()
    raise AssertionError(f"no student landed on {backend} in {tries} tries: is the hash sticky at all?")


def test_students_stick_to_a_process_and_move_when_it_stops(browser, stack):
    a, b = stack.backends
    alice, alice_key = _student_on(browser, stack, a)
    bob, bob_key = _student_on(browser, stack, b)
    late, late_key = _student_on(browser, stack, a)  # opens the app only after `a` has stopped

    # Alice: a deep link, a rerun (a control moved), a reload (a new websocket); Bob likewise once.
    page, errors, _ = _open(alice, stack.url + "/vanishing?depth=12")
    assert _slider(page, "Depth") == "12"
    page.locator("[data-testid='stSlider']", has_text="Width").get_by_role("slider").focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("location.search.includes('width=80')", timeout=30_000)
    wait_idle(page)
    state = page.url
    page.reload()
    wait_idle(page, timeout=60_000)
    assert page.url == state and _slider(page, "Depth") == "12" and _slider(page, "Width") == "80"
    _assert_full_app(page, errors)
    bob_page, bob_errors, _ = _open(bob, stack.url + "/", "[data-testid='stPageLink']")
    _assert_full_app(bob_page, bob_errors)

    log = stack.log()
    for key, backend in ((alice_key, a), (bob_key, b)):
        served = {l["served_by"] for l in log if l["key"] == key}
        assert served == {backend}, (key, served)
    # Alice's first websocket (closed by the reload) was hers, on her process
    assert [l["served_by"] for l in log if l["key"] == alice_key and l["uri"] == "/_stcore/stream"] == [a]

    # Stop Alice's process. Her reload, a new student hashed to it, and Bob: all served by b.
    stack.stop_app(a)
    since = stack.log_size()
    page.reload()
    page.wait_for_selector("[data-testid='stPlotlyChart']", timeout=60_000)
    wait_idle(page, timeout=60_000)
    assert page.url == state and _slider(page, "Depth") == "12" and _slider(page, "Width") == "80"
    _assert_full_app(page, errors)
    # no reload: the first load of a new student whose cookie hashes to the stopped process renders
    late_page, late_errors, _ = _open(late, stack.url + "/", "[data-testid='stPageLink']")
    _assert_full_app(late_page, late_errors)
    bob_page.reload()
    wait_idle(bob_page, timeout=60_000)
    _assert_full_app(bob_page, bob_errors)
    for ctx in (alice, late, bob):
        ctx.close()  # closes the websockets, which writes their log lines
    after = _wait_log(stack, lambda log: {l["key"] for l in log if l["uri"] == "/_stcore/stream"}
                      >= {alice_key, late_key, bob_key}, since)
    assert after, stack.log(since)
    for key in (alice_key, late_key, bob_key):
        served = {l["served_by"] for l in after if l["key"] == key}
        assert served == {b}, (key, served)
    # no 502/504: nginx never handed a student the stopped process's refusal (404s are the
    # frontend's own base-path probes such as /losses/_stcore/health, as without nginx)
    assert all(int(l["status"]) < 500 for l in after), [(l["status"], l["uri"]) for l in after]


def _nginx_t(nginx: str, conf: str, tmp: Path) -> subprocess.CompletedProcess:
    (tmp / "nginx.conf").write_text(conf)
    return subprocess.run([nginx, "-t", "-q", "-e", str(tmp / "error.log"), "-p", f"{tmp}/",
                           "-c", str(tmp / "nginx.conf")], capture_output=True, text=True, timeout=30)


def test_compose_nginx_config_is_the_same_template_and_valid(nginx, tmp_path):
    """Docker is not at hand in CI: render the template as the compose file's nginx image does
    (its environment, envsubst of NNVIZ_* only) and let this nginx check it."""
    sys.path.insert(0, str(DEPLOY))
    from render_nginx import TEMPLATE, fill

    compose = (DEPLOY / "docker-compose.yml").read_text()
    env = dict(re.findall(r'^\s+(NNVIZ_\w+): "([^"]*)"', compose, re.M))
    assert "./nginx/nnviz.conf.template:/etc/nginx/templates/default.conf.template:ro" in compose
    assert env["NNVIZ_UPSTREAM"].startswith("server app:8501")
    # `app` is Docker's name for every replica; here it must resolve, so point it at loopback
    env["NNVIZ_UPSTREAM"] = env["NNVIZ_UPSTREAM"].replace("app:8501", "127.0.0.1:8501")
    env["NNVIZ_ACCESS_LOG"] = str(tmp_path / "access.log")
    env["NNVIZ_LISTEN"] = f"127.0.0.1:{free_port()}"
    # The affinity secret: compose passes the host's NNVIZ_AFFINITY_SECRET (empty when unset) and the
    # service's entrypoint makes one before the image's /docker-entrypoint.sh renders the template.
    # Run that script here (compose's `$$` is a `$`), with a stand-in for the image's entrypoint.
    assert env["NNVIZ_AFFINITY_SECRET"] == "${NNVIZ_AFFINITY_SECRET:-}"
    entry = re.search(r"^    entrypoint:\n      - /bin/sh\n      - -c\n      - \|\n((?:        .*\n)+)", compose, re.M)
    script = "".join(line[8:] + "\n" for line in entry[1].splitlines())  # the YAML literal block, as compose reads it
    assert "exec /docker-entrypoint.sh nginx -g 'daemon off;'" in script
    script = script.replace("$$", "$").replace("exec /docker-entrypoint.sh nginx -g 'daemon off;'",
                                                 'printf %s "$NNVIZ_AFFINITY_SECRET"')

    def secret(given: str) -> str:
        return subprocess.run(["sh", "-c", script], env={"PATH": os.environ["PATH"], "NNVIZ_AFFINITY_SECRET": given},
                              capture_output=True, text=True, timeout=10, check=True).stdout

    made = [secret(""), secret("")]
    assert all(re.fullmatch(r"[0-9a-f]{32}", m) for m in made) and made[0] != made[1], made  # 128 bits, new each start
    assert secret("kept-across-restarts-0123456789") == "kept-across-restarts-0123456789"
    env["NNVIZ_AFFINITY_SECRET"] = made[0]
    site = fill(TEMPLATE.read_text(), env)
    assert f'hash "{made[0]}$nnviz_affinity" consistent;' in site
    assert "${" not in site
    temps = "".join(f"{k}_temp_path {tmp_path / k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # the shape of the nginx image's nginx.conf: the rendered file is included inside http {}
    conf = f"pid {tmp_path / 'nginx.pid'}; events {{}} http {{ {temps} include {tmp_path / 'site.conf'}; }}"
    (tmp_path / "site.conf").write_text(site)
    done = _nginx_t(nginx, conf, tmp_path)
    assert done.returncode == 0, done.stderr


def _compose_services(text: str) -> dict[str, str]:
    """Each service's block of the compose file, by its two-space-indented name (no YAML parser needed)."""
    body = text.split("\nservices:\n", 1)[1]
    parts = re.split(r"^  ([\w-]+):[ \t]*$", body, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def _k8s_docs(text: str) -> dict[tuple[str, str], str]:
    """Each document of the manifest, keyed by (kind, metadata name)."""
    docs = {}
    for doc in re.split(r"^---[ \t]*$", text, flags=re.M):
        kind = re.search(r"^kind: (\w+)", doc, re.M)
        name = re.search(r"^metadata:\n  name: ([\w-]+)", doc, re.M)
        assert kind and name, doc
        docs[kind[1], name[1]] = doc
    return docs


def _redis_args(line_owner: str, key: str) -> list[str]:
    """A flow list (`key: ["a", "b"]`) on one line, read as JSON."""
    import json

    return json.loads(re.search(rf"^\s*{key}: (\[.*\])\s*$", line_owner, re.M)[1])


def test_container_recipes_say_what_the_issue_asks():
    docker = (DEPLOY / "Dockerfile").read_text()
    assert docker.startswith("#") and "FROM python:3.11-slim" in docker
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in docker and "torch==2.13.0+cpu" in docker
    assert "torch==2.13.0\n" in (ROOT / "requirements.txt").read_text()  # met by the +cpu wheel
    user = re.search(r"^USER (?!root)(\w+)", docker, re.M)
    assert user
    assert "HEALTHCHECK" in docker and "/_stcore/health" in docker and "COPY .streamlit" in docker
    # class mode's SQLite default: the data folder exists in the image and the non-root user owns it
    # (a named volume mounted there starts as a copy of it), created before USER drops root
    data_dir = re.search(r"^ENV NNVIZ_DATA_DIR=(/\S+)$", docker, re.M)[1]
    before_user = docker[:user.start()]
    assert re.search(rf"mkdir -p {re.escape(data_dir)}\b", before_user)
    assert re.search(rf"chown {user[1]}(:{user[1]})? {re.escape(data_dir)}\b", before_user)
    assert f"-v nnviz-data:{data_dir}" in docker  # the documented `docker run` recipe mounts that folder

    # compose: app, nginx and a Redis that every app replica shares, reachable only inside the project
    compose = (DEPLOY / "docker-compose.yml").read_text()
    blocks = _compose_services(compose)
    assert set(blocks) == {"app", "nginx", "redis"}
    assert 'NNVIZ_CLASS_STORE: "redis://redis:6379/0"' in blocks["app"]  # `redis`: the service's name
    assert re.search(r"depends_on:\n\s+redis:\n\s+condition: service_healthy", blocks["app"])
    assert re.search(r"depends_on:\n\s+app:\n\s+condition: service_healthy", blocks["nginx"])
    assert re.search(r"^    image: redis:7", blocks["redis"], re.M)
    assert "redis-cli ping" in blocks["redis"] and "healthcheck:" in blocks["redis"]
    assert "ports:" not in blocks["redis"] and "volumes:" not in blocks["redis"]
    compose_args = _redis_args(blocks["redis"], "command")
    assert compose_args[0] == "redis-server" and compose_args[1:3] == ["--save", ""]

    k8s = (DEPLOY / "k8s" / "nnviz.yaml").read_text()
    for needle in ("kind: Deployment", "readinessProbe:", "livenessProbe:", "path: /_stcore/health",
                   "sessionAffinity: ClientIP", "kind: Ingress", 'affinity: "cookie"',
                   'proxy-read-timeout: "3600"', "resources:"):
        assert needle in k8s, needle
    docs = _k8s_docs(k8s)
    assert list(docs) == [("Deployment", "nnviz"), ("PodDisruptionBudget", "nnviz"), ("Service", "nnviz"),
                          ("Ingress", "nnviz"), ("Deployment", "nnviz-redis"), ("Service", "nnviz-redis"),
                          ("NetworkPolicy", "nnviz-redis")]
    # the app's URL names the Redis Service and its port
    assert '{name: NNVIZ_CLASS_STORE, value: "redis://nnviz-redis:6379/0"}' in docs["Deployment", "nnviz"]
    redis_deploy, redis_service = docs["Deployment", "nnviz-redis"], docs["Service", "nnviz-redis"]
    assert "port: 6379" in redis_service and "type: ClusterIP" in redis_service
    assert re.search(r"^  replicas: 1$", redis_deploy, re.M) and "strategy: {type: Recreate}" in redis_deploy
    for probe in ("readinessProbe", "livenessProbe"):
        assert re.search(rf"{probe}:\n\s+exec: {{command: \[.*redis-cli ping.*\]}}", redis_deploy), probe
    assert re.search(r"resources:\n\s+requests: {cpu: \S+, memory: \S+}\n\s+limits: {cpu: \S+, memory: \S+}",
                     redis_deploy)
    assert _redis_args(redis_deploy, "args") == compose_args[1:]  # the same server in both recipes
    # only the app's pods reach Redis: the policy selects Redis's pods and admits the app's label
    policy = docs["NetworkPolicy", "nnviz-redis"]
    assert "matchLabels: {app.kubernetes.io/name: nnviz-redis}" in policy
    assert "matchLabels: {app.kubernetes.io/name: nnviz}" in policy and "port: 6379" in policy
    try:
        import yaml
    except ImportError:
        return  # PyYAML is not a test dependency; the text checks above still ran
    parsed = list(yaml.safe_load_all(k8s))
    kinds = [d["kind"] for d in parsed]
    assert kinds == ["Deployment", "PodDisruptionBudget", "Service", "Ingress", "Deployment", "Service",
                     "NetworkPolicy"]
    app, _, service, _, redis, redis_svc, policy = parsed
    app_pod, redis_pod = app["spec"]["template"]["spec"], redis["spec"]["template"]["spec"]
    env = {e["name"]: e["value"] for e in app_pod["containers"][0]["env"]}
    assert env["NNVIZ_CLASS_STORE"] == f"redis://{redis_svc['metadata']['name']}:{redis_svc['spec']['ports'][0]['port']}/0"
    # the app's Service and PodDisruptionBudget must not select the Redis pod
    assert service["spec"]["selector"] != redis["spec"]["template"]["metadata"]["labels"]
    assert redis_svc["spec"]["selector"] == redis["spec"]["template"]["metadata"]["labels"]
    assert redis_svc["spec"].get("type", "ClusterIP") == "ClusterIP"
    (container,) = redis_pod["containers"]
    assert container["image"].startswith("redis:7")
    for probe in ("readinessProbe", "livenessProbe"):
        assert "redis-cli ping" in " ".join(container[probe]["exec"]["command"]), probe
    assert set(container["resources"]) == {"requests", "limits"}
    assert redis_pod["securityContext"]["runAsNonRoot"] is True
    assert policy["spec"]["podSelector"]["matchLabels"] == redis["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"] == (
        app["spec"]["template"]["metadata"]["labels"])
    services = yaml.safe_load(compose)["services"]
    assert set(services) == {"app", "nginx", "redis"}
    assert services["nginx"]["depends_on"]["app"]["condition"] == "service_healthy"
    assert services["app"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["app"]["environment"]["NNVIZ_CLASS_STORE"] == "redis://redis:6379/0"
    assert "ports" not in services["redis"] and "redis-cli ping" in " ".join(services["redis"]["healthcheck"]["test"])
    assert services["redis"]["command"] == compose_args


def test_the_recipes_redis_runs_as_configured_and_serves_a_class(tmp_path):
    """Debian's redis-server started with the compose file's own arguments (on a loopback port): its
    healthcheck passes, it keeps nothing on disk, and the app's NNVIZ_CLASS_STORE URL (host and port
    pointed at it) opens a Redis store whose class keys expire on their own."""
    exe = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK)
                                            else None)
    if exe is None or shutil.which("redis-cli") is None:
        reason = "redis-server or redis-cli not found (apt-get install -y redis-server)"
        if os.environ.get("NNVIZ_REQUIRE_REDIS") == "1" or os.environ.get("NNVIZ_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    import redis

    from nnviz.classstore import TTL_S, open_store

    blocks = _compose_services((DEPLOY / "docker-compose.yml").read_text())
    args = _redis_args(blocks["redis"], "command")
    health = re.search(r'test: \["CMD-SHELL", "(.*)"\]', blocks["redis"])[1]
    url = re.search(r'NNVIZ_CLASS_STORE: "(redis://redis:6379/0)"', blocks["app"])[1]
    port = free_port()
    proc = subprocess.Popen([exe, *args[1:], "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path),
                             "--daemonize", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        check = ["bash", "-c", health.replace("redis-cli", f"redis-cli -p {port}")]
        deadline = time.time() + 10
        while subprocess.run(check, capture_output=True, timeout=10).returncode != 0:
            assert proc.poll() is None and time.time() < deadline, "redis-server did not answer its healthcheck"
            time.sleep(0.1)
        client = redis.Redis(port=port, decode_responses=True)
        assert client.config_get("save") == {"save": ""} and client.config_get("appendonly") == {"appendonly": "no"}
        assert int(client.config_get("maxmemory")["maxmemory"]) == 200 * 1024 ** 2
        store = open_store(url.replace("redis:6379", f"127.0.0.1:{port}"))
        try:
            new = store.create_class()
            store.set_state(new.code, new.secret, page="pages/activations.py", step=1,
                            question="activations.relu_dead")
            store.record_guess(new.code, "student-1", "activations.relu_dead", 3.0)
            assert store.count_guesses(new.code, "activations.relu_dead") == 1
            keys = client.keys("*")
            assert keys and all(0 < client.pttl(k) <= TTL_S * 1000 for k in keys if k != "nnviz:classes")
            store.end_class(new.code, new.secret)
            assert store.get_class(new.code) is None
        finally:
            store.close()
        client.close()
        proc.terminate()
        proc.wait(timeout=10)
        assert list(tmp_path.iterdir()) == []  # no dump.rdb, no appendonly file: ephemeral by design
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
