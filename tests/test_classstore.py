"""Class mode's store (nnviz.classstore): every store test runs against SQLite and against a real Redis.

The Redis half starts Debian's redis-server on a free loopback port (no persistence, in a temp folder) and
skips where it is missing, or fails instead when NNVIZ_REQUIRE_REDIS=1 or NNVIZ_REQUIRE_BROWSER=1 (CI).
"""
from __future__ import annotations

import math
import multiprocessing
import os
import shutil
import socket
import sqlite3
import subprocess
import time

import pytest

from nnviz import classstore as cs
from nnviz.classstore import (ClassNotFound, GuessRefused, RedisStore, SQLiteStore, StoreFull,
                              WrongCodeThrottle, format_code, normalize_code, open_store)

QUESTION = "activations.relu_dead"


# --- a real redis-server for the module -----------------------------------------------------------------

def _require_redis() -> bool:
    return os.environ.get("NNVIZ_REQUIRE_REDIS") == "1" or os.environ.get("NNVIZ_REQUIRE_BROWSER") == "1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    exe = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server")
                                            else None)
    if exe is None:
        reason = "redis-server not found (apt-get install -y redis-server; scripts/test.sh installs it)"
        if _require_redis():
            pytest.fail(f"{reason} (NNVIZ_REQUIRE_REDIS=1 or NNVIZ_REQUIRE_BROWSER=1 requires it)")
        pytest.skip(reason)
    import redis

    folder = tmp_path_factory.mktemp("redis")
    for _ in range(3):  # a free port can be taken between the probe and the bind: try again
        port = _free_port()
        proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                 "--dir", str(folder), "--daemonize", "no", "--protected-mode", "yes"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()
        if proc.poll() is None:
            break
    else:
        pytest.fail("redis-server did not start")
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Backend:
    """One store kind: open stores of it (also from other processes, by spec) and read its raw contents."""

    def __init__(self, kind: str, spec: str):
        self.kind, self.spec = kind, spec
        self.opened: list[cs.ClassStore] = []

    def open(self, **options) -> cs.ClassStore:
        store = open_store(self.spec, **options)
        self.opened.append(store)
        return store

    def raw(self) -> list:
        """Everything stored, as plain data (for "nothing was written" and "nothing is left")."""
        if self.kind == "sqlite":
            db = sqlite3.connect(self.spec.removeprefix("sqlite:"))
            try:
                return [(t, sorted(db.execute(f"SELECT * FROM {t}").fetchall()))
                        for t in ("classes", "guesses", "members")]
            finally:
                db.close()
        import redis

        r = redis.Redis.from_url(self.spec, decode_responses=True)
        out = []
        for key in sorted(r.scan_iter("*")):
            if not r.exists(key):  # EXISTS expires a key whose time is up
                continue
            kind = r.type(key)
            value = {"hash": r.hgetall, "set": lambda k: sorted(r.smembers(k)),
                     "zset": lambda k: r.zrange(k, 0, -1), "string": r.get}[kind](key)
            out.append((key, kind, value, r.pttl(key)))
        r.close()
        return out

    def rows(self) -> list:
        """The raw contents without the Redis TTLs (they tick)."""
        return [x[:3] if self.kind == "redis" else x for x in self.raw()]


@pytest.fixture(params=["sqlite", "redis"])
def backend(request, tmp_path):
    if request.param == "sqlite":
        b = Backend("sqlite", f"sqlite:{tmp_path / 'data' / 'classes.sqlite3'}")
    else:
        url = request.getfixturevalue("redis_url")
        import redis

        r = redis.Redis.from_url(url)
        r.flushall()
        r.close()
        b = Backend("redis", url)
    yield b
    for store in b.opened:
        store.close()


@pytest.fixture
def store(backend):
    return backend.open()


def _asking(store, question: str = QUESTION):
    """A class whose teacher asks `question`."""
    new = store.create_class()
    store.set_state(new.code, new.secret, page="pages/activations.py", step=1, question=question)
    return new


# --- create, join, state --------------------------------------------------------------------------------

def test_create_join_and_state_round_trip(backend, store):
    new = store.create_class()
    assert len(new.code) == 10 and set(new.code) <= set(cs.CODE_ALPHABET)
    assert len(new.secret) >= 43  # token_urlsafe(32): 256 bits, 6 bits a character
    fresh = store.get_class(new.code)
    assert (fresh.page, fresh.step, fresh.question, fresh.settings, fresh.revealed, fresh.version) == \
        ("", 0, "", {}, False, 0)
    # a student types the code as the projector shows it, or in lower case with spaces
    shown = format_code(new.code)
    assert shown[5] == "-" and shown.replace("-", "") == new.code
    assert store.get_class(shown) == store.get_class(" " + shown.lower().replace("-", " ")) == fresh

    settings = {"activation": "tanh", "x": [-2.5, 0.0, 1e-3], "log": True, "n": 7, "none": None}
    state = store.set_state(new.code, new.secret, page="pages/vanishing.py", step=3, question=QUESTION,
                            settings=settings)
    assert (state.page, state.step, state.question, state.settings, state.revealed, state.version) == \
        ("pages/vanishing.py", 3, QUESTION, settings, False, 1)
    assert store.get_class(new.code) == state
    # a partial update keeps the other fields; every set_state adds one to the version
    state = store.set_state(new.code, new.secret, revealed=True)
    assert (state.page, state.step, state.question, state.settings, state.revealed, state.version) == \
        ("pages/vanishing.py", 3, QUESTION, settings, True, 2)
    # a new question un-reveals unless told otherwise; the same question keeps the reveal
    assert store.set_state(new.code, new.secret, question=QUESTION).revealed is True
    state = store.set_state(new.code, new.secret, step=4, question="vanishing.depth")
    assert (state.step, state.question, state.revealed, state.version) == (4, "vanishing.depth", False, 4)
    assert store.set_state(new.code, new.secret, question="").question == ""
    assert store.get_class(new.code).version == 5
    assert store.is_teacher(new.code, new.secret) and store.is_teacher(shown, new.secret)

    # only a SHA-256 of the secret is stored, never the secret
    dump = repr(backend.raw())
    import hashlib
    assert new.secret not in dump and hashlib.sha256(new.secret.encode()).hexdigest() in dump


def test_a_second_process_store_sees_the_same_class(backend):
    """Two store objects on the same file/server (as two app processes have) share every class."""
    teacher_side, student_side = backend.open(), backend.open()
    new = _asking(teacher_side)
    student_side.record_guess(new.code, "student-1", QUESTION, 0.25)
    assert teacher_side.count_guesses(new.code, QUESTION) == 1
    assert teacher_side.guesses(new.code, QUESTION) == [0.25]
    teacher_side.set_state(new.code, new.secret, step=2)
    assert student_side.get_class(new.code).step == 2


# --- who may do what ------------------------------------------------------------------------------------

def test_only_the_teacher_secret_sets_state_reveals_clears_or_ends(backend, store):
    new = _asking(store)
    other = store.create_class()
    student = "5f0c7a4e-2d0b-4c1e-9a7b-1c2d3e4f5a6b"  # what a student holds: the code and a session id
    store.record_guess(new.code, student, QUESTION, 3.0)
    before_state, before_rows = store.get_class(new.code), backend.rows()
    wrong = [other.secret, student, new.code, format_code(new.code), "", "x" * 5000, None, 42, new.secret[:-1],
             new.secret + "A", new.secret.upper()]
    for secret in wrong:
        with pytest.raises(PermissionError):
            store.set_state(new.code, secret, step=9)
        with pytest.raises(PermissionError):
            store.set_state(new.code, secret, revealed=True)
        with pytest.raises(PermissionError):
            store.clear_guesses(new.code, secret, QUESTION)
        with pytest.raises(PermissionError):
            store.end_class(new.code, secret)
        assert not store.is_teacher(new.code, secret)
    assert store.get_class(new.code) == before_state and store.get_class(new.code).revealed is False
    assert backend.rows() == before_rows
    # and the right secret of one class does nothing to another
    with pytest.raises(PermissionError):
        store.end_class(other.code, new.secret)
    assert store.get_class(other.code) is not None


def test_codes_have_40_bits_and_are_distinct(store):
    assert not set("01OIL") & set(cs.CODE_ALPHABET)  # nothing to misread
    assert len(set(cs.CODE_ALPHABET)) == 31 and cs.CODE_LENGTH * math.log2(31) >= 40
    made = [store.create_class() for _ in range(150)]
    codes, secrets_ = {m.code for m in made}, {m.secret for m in made}
    assert len(codes) == len(secrets_) == 150
    assert all(normalize_code(c) == c for c in codes)
    # every symbol turns up in 1500 draws (each is missing with probability (30/31)**1500 ~ 1e-21)
    assert set("".join(codes)) == set(cs.CODE_ALPHABET)


def test_a_full_store_refuses_new_classes(backend):
    store = backend.open(max_classes=3)
    made = [store.create_class() for _ in range(3)]
    with pytest.raises(StoreFull):
        store.create_class()
    store.end_class(made[0].code, made[0].secret)
    assert store.get_class(store.create_class().code) is not None


def test_a_wrong_or_malformed_code_is_none(store):
    new = _asking(store)
    wrong = "".join(cs.CODE_ALPHABET[(cs.CODE_ALPHABET.index(c) + 1) % 31] for c in new.code)
    for code in (wrong, new.code[:-1], new.code + "A", "", "0O1IL0O1IL", None, 12345, "x" * 10_000,
                 new.code.replace(new.code[0], "0"), "'; DROP TABLE classes; --"):
        assert store.get_class(code) is None, code
        assert store.count_guesses(code, QUESTION) == 0 and store.guesses(code, QUESTION) == []
        assert store.expires_in(code) is None and not store.is_teacher(code, new.secret)
        with pytest.raises(ClassNotFound):
            store.record_guess(code, "s1", QUESTION, 1.0)
        with pytest.raises(ClassNotFound):
            store.set_state(code, new.secret, step=1)
        with pytest.raises(ClassNotFound):
            store.end_class(code, new.secret)
    assert store.get_class(new.code) is not None


def test_a_class_expires_after_its_ttl_without_writes(backend):
    store = backend.open(ttl_s=0.5)
    new = _asking(store)
    store.record_guess(new.code, "s1", QUESTION, 2.0)
    assert 0 < store.expires_in(new.code) <= 0.5
    time.sleep(0.8)  # past the TTL (a late wake-up only makes it more expired)
    assert store.get_class(new.code) is None and store.expires_in(new.code) is None
    assert store.count_guesses(new.code, QUESTION) == 0 and store.guesses(new.code, QUESTION) == []
    with pytest.raises(ClassNotFound):
        store.record_guess(new.code, "s2", QUESTION, 1.0)
    with pytest.raises(ClassNotFound):
        store.set_state(new.code, new.secret, step=2)
    with pytest.raises(ClassNotFound):
        store.end_class(new.code, new.secret)
    if backend.kind == "sqlite":
        assert store.purge_expired() == 1
    assert all(not rows for _, rows in backend.raw()) if backend.kind == "sqlite" else backend.raw() == []


def test_every_write_renews_the_ttl_and_every_redis_key_expires(backend):
    store = backend.open(ttl_s=100.0)
    new = _asking(store)
    store.record_guess(new.code, "s1", QUESTION, 2.0)
    time.sleep(0.3)
    before = store.expires_in(new.code)
    assert before <= 99.7 + 1e-3
    store.record_guess(new.code, "s2", QUESTION, 3.0)
    assert store.expires_in(new.code) > before + 0.2
    time.sleep(0.3)
    before = store.expires_in(new.code)
    store.set_state(new.code, new.secret, step=5)
    assert store.expires_in(new.code) > before + 0.2
    if backend.kind == "redis":
        raw = backend.raw()
        assert len(raw) >= 5  # state, sessions, questions, one question's guesses, the class index
        assert all(0 < ttl <= 100_000 for *_, ttl in raw), raw


# --- guesses ----------------------------------------------------------------------------------------------

def test_a_flood_from_one_session_keeps_one_row(backend, store):
    new = _asking(store)
    store.record_guess(new.code, "other", QUESTION, "tanh")
    for i in range(1000):
        store.record_guess(new.code, "flooder", QUESTION, float(i))
    assert store.count_guesses(new.code, QUESTION) == 2
    assert sorted(store.guesses(new.code, QUESTION), key=str) == [999.0, "tanh"]
    assert store.guess_of(new.code, "flooder", QUESTION) == 999.0
    assert store.guess_of(new.code, "nobody", QUESTION) is None
    # another question id is refused while the teacher asks this one: ids cannot be invented to grow the store
    rows = backend.rows()
    for i in range(50):
        with pytest.raises(GuessRefused):
            store.record_guess(new.code, "flooder", f"made.up.{i}", 1.0)
    assert backend.rows() == rows


def test_guesses_count_for_the_current_question_until_the_reveal(store):
    new = _asking(store)
    store.record_guess(new.code, "a", QUESTION, 1.5)
    store.record_guess(new.code, "b", QUESTION, 1)  # numbers come back as float
    assert sorted(store.guesses(new.code, QUESTION)) == [1.0, 1.5]
    store.set_state(new.code, new.secret, revealed=True)
    with pytest.raises(GuessRefused, match="revealed"):
        store.record_guess(new.code, "a", QUESTION, 9.0)
    with pytest.raises(GuessRefused, match="not asking"):
        store.record_guess(new.code, "a", "vanishing.depth", 9.0)
    assert store.guess_of(new.code, "a", QUESTION) == 1.5
    # the next question takes guesses; the earlier question's stay for the projector
    store.set_state(new.code, new.secret, question="vanishing.depth")
    store.record_guess(new.code, "a", "vanishing.depth", "sigmoid")
    assert store.guesses(new.code, "vanishing.depth") == ["sigmoid"]
    assert store.count_guesses(new.code, QUESTION) == 2
    # a re-vote: the teacher clears a question's guesses
    store.clear_guesses(new.code, new.secret, "vanishing.depth")
    assert store.count_guesses(new.code, "vanishing.depth") == 0 and store.count_guesses(new.code, QUESTION) == 2


def _guess_worker(spec: str, code: str, worker: int, n: int, start) -> None:
    store = open_store(spec)
    start.wait(10)
    for i in range(n):
        session = f"w{worker}-s{i}"
        store.record_guess(code, session, QUESTION, float(-1))          # a first guess ...
        store.record_guess(code, session, QUESTION, float(worker * 1000 + i))  # ... replaced
    store.close()


def test_writers_in_several_processes_give_exact_counts(backend, store):
    new = _asking(store)
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    workers, n = 4, 50
    procs = [ctx.Process(target=_guess_worker, args=(backend.spec, new.code, w, n, start)) for w in range(workers)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * workers
    expected = sorted(float(w * 1000 + i) for w in range(workers) for i in range(n))
    assert store.count_guesses(new.code, QUESTION) == workers * n
    assert sorted(store.guesses(new.code, QUESTION)) == expected


def test_threads_of_one_process_share_one_store(store):
    """Streamlit runs each session as a thread: one store object serves them all at once."""
    from concurrent.futures import ThreadPoolExecutor

    new = _asking(store)

    def student(t: int) -> None:
        for i in range(20):
            store.record_guess(new.code, f"t{t}-s{i}", QUESTION, float(t))
            assert store.get_class(new.code).question == QUESTION

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(student, range(8)))
    assert sorted(store.guesses(new.code, QUESTION)) == sorted(float(t) for t in range(8) for _ in range(20))


def test_values_read_back_from_the_store_are_checked_again(backend, store):
    """A store is data: a corrupted or foreign value never reaches the app as a state or a guess."""
    new = _asking(store)
    store.record_guess(new.code, "good", QUESTION, 2.0)
    bad_guesses = ["NaN", "Infinity", "[1]", "true", '"' + "x" * 500 + '"', "not json"]
    if backend.kind == "sqlite":
        db = sqlite3.connect(store.path)
        db.executemany("INSERT INTO guesses VALUES (?, ?, ?, ?)",
                       [(new.code, QUESTION, f"bad{i}", v) for i, v in enumerate(bad_guesses)])
        db.execute("UPDATE classes SET settings = ? WHERE code = ?", ('{"x": NaN}', new.code))
        db.commit()
        db.close()
    else:
        import redis

        r = redis.Redis.from_url(backend.spec)
        r.hset(f"nnviz:class:{{{new.code}}}:g:{QUESTION}", mapping={f"bad{i}": v for i, v in enumerate(bad_guesses)})
        r.hset(f"nnviz:class:{{{new.code}}}", "settings", '{"x": NaN}')
        r.close()
    assert store.guesses(new.code, QUESTION) == [2.0]
    assert store.get_class(new.code) is None


def _capped_worker(spec: str, code: str, worker: int, n: int, start, refused) -> None:
    store = open_store(spec)
    start.wait(10)
    for i in range(n):
        try:
            store.record_guess(code, f"w{worker}-s{i}", QUESTION, 1.0)
        except GuessRefused:
            with refused.get_lock():
                refused.value += 1
    store.close()


def test_the_session_cap_holds_under_concurrent_writers(backend, store, monkeypatch):
    """The check "fewer than the cap" and the write are one transaction: 4 processes racing for the last
    places of a class never take more than the cap."""
    monkeypatch.setattr(cs, "MAX_SESSIONS_PER_CLASS", 60)  # forked children inherit it
    new = _asking(store)
    ctx = multiprocessing.get_context("fork")
    start, refused = ctx.Event(), ctx.Value("i", 0)
    procs = [ctx.Process(target=_capped_worker, args=(backend.spec, new.code, w, 50, start, refused))
             for w in range(4)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * 4
    assert store.count_guesses(new.code, QUESTION) == 60 and refused.value == 200 - 60


def test_end_deletes_the_class_and_its_guesses(backend, store):
    new, other = _asking(store), _asking(store)
    store.record_guess(other.code, "s1", QUESTION, "relu")
    others = backend.rows()
    store.record_guess(new.code, "s1", QUESTION, 1.0)
    store.record_guess(new.code, "s2", QUESTION, 2.0)
    store.end_class(new.code, new.secret)
    assert store.get_class(new.code) is None and store.count_guesses(new.code, QUESTION) == 0
    assert store.guesses(new.code, QUESTION) == [] and store.guess_of(new.code, "s1", QUESTION) is None
    assert new.code not in repr(backend.raw())  # no row or key of it is left
    assert store.get_class(other.code) is not None and store.guesses(other.code, QUESTION) == ["relu"]
    assert len(repr(backend.rows())) <= len(repr(others))  # only what was there before the ended class
    with pytest.raises(ClassNotFound):
        store.end_class(new.code, new.secret)


# --- bounds -----------------------------------------------------------------------------------------------

def test_bad_values_raise_value_error_and_write_nothing(backend, store):
    new = _asking(store)
    store.record_guess(new.code, "s1", QUESTION, 1.0)
    rows = backend.rows()
    big = {"x": "a" * cs.MAX_SETTINGS_BYTES}
    bad_states = [dict(settings=big), dict(settings={"x": math.nan}), dict(settings={"x": [math.inf]}),
                  dict(settings={1: "a"}), dict(settings={"x": (1, 2)}), dict(settings=[1]), dict(settings="{}"),
                  dict(settings={"x": object()}), dict(page="p" * 101), dict(page="<script>"),
                  dict(page="pages/a b.py"), dict(step=-1), dict(step=cs.MAX_STEP + 1), dict(step=True),
                  dict(step=2.0), dict(question="q" * 81), dict(question="q q"), dict(question=5),
                  dict(revealed="yes"), dict(revealed=1),
                  dict(step=2, settings={"x": math.nan})]  # one bad field: the good one is not written either
    for kwargs in bad_states:
        with pytest.raises(ValueError):
            store.set_state(new.code, new.secret, **kwargs)
    bad_guesses = [("s2", QUESTION, math.nan), ("s2", QUESTION, math.inf), ("s2", QUESTION, -math.inf),
                   ("s2", QUESTION, 10 ** 400), ("s2", QUESTION, True), ("s2", QUESTION, None),
                   ("s2", QUESTION, ""), ("s2", QUESTION, "x" * (cs.MAX_GUESS_CHARS + 1)), ("s2", QUESTION, [1]),
                   ("s2", QUESTION, "a\x00b"), ("s" * 65, QUESTION, 1.0), ("s 2", QUESTION, 1.0), ("", QUESTION, 1.0),
                   (None, QUESTION, 1.0), ("s2", "q" * 81, 1.0), ("s2", "", 1.0), ("s2", None, 1.0),
                   ("s1", QUESTION, math.nan)]  # a bad new guess leaves the old one
    for session, question, value in bad_guesses:
        with pytest.raises(ValueError):
            store.record_guess(new.code, session, question, value)
    assert backend.rows() == rows
    assert store.get_class(new.code).version == 1 and store.guess_of(new.code, "s1", QUESTION) == 1.0
    # the limits themselves are accepted
    at_limit = {"x": "a" * (cs.MAX_SETTINGS_BYTES - len('{"x":""}'))}
    assert store.set_state(new.code, new.secret, settings=at_limit, step=cs.MAX_STEP).settings == at_limit
    store.record_guess(new.code, "s" * 64, QUESTION, "x" * cs.MAX_GUESS_CHARS)
    store.record_guess(new.code, "s2", QUESTION, -1e308)
    assert store.count_guesses(new.code, QUESTION) == 3


def test_a_class_takes_at_most_500_sessions(backend, store):
    new = _asking(store)
    for i in range(cs.MAX_SESSIONS_PER_CLASS):
        store.record_guess(new.code, f"s{i}", QUESTION, float(i))
    rows = backend.rows()
    with pytest.raises(ValueError, match="500 students"):
        store.record_guess(new.code, "one-too-many", QUESTION, 1.0)
    assert backend.rows() == rows and store.count_guesses(new.code, QUESTION) == 500
    store.record_guess(new.code, "s7", QUESTION, 70.0)  # one already in may still change its guess
    assert store.guess_of(new.code, "s7", QUESTION) == 70.0 and store.count_guesses(new.code, QUESTION) == 500


def test_a_class_keeps_guesses_for_at_most_100_questions(store, monkeypatch):
    monkeypatch.setattr(cs, "MAX_QUESTIONS_PER_CLASS", 3)  # the same check as at 100, cheaper
    new = store.create_class()
    for q in range(3):
        store.set_state(new.code, new.secret, question=f"q{q}")
        store.record_guess(new.code, "s1", f"q{q}", 1.0)
    store.set_state(new.code, new.secret, question="q3")
    with pytest.raises(GuessRefused, match="3 questions"):
        store.record_guess(new.code, "s1", "q3", 1.0)
    store.clear_guesses(new.code, new.secret, "q0")  # a cleared question frees its place
    store.record_guess(new.code, "s1", "q3", 1.0)
    assert [store.count_guesses(new.code, f"q{q}") for q in range(4)] == [0, 1, 1, 1]


# --- choosing a store; the wrong-code slowdown -----------------------------------------------------------

def test_open_store_picks_the_store_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("NNVIZ_CLASS_STORE", raising=False)
    monkeypatch.setenv("NNVIZ_DATA_DIR", str(tmp_path / "made" / "here"))
    store = open_store()
    try:
        path = tmp_path / "made" / "here" / "classes.sqlite3"
        assert isinstance(store, SQLiteStore) and store.path == path and path.exists()
        assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        store.close()
    monkeypatch.setenv("NNVIZ_CLASS_STORE", f"sqlite:{tmp_path / 'x.db'}")
    assert open_store().path == tmp_path / "x.db"
    for bad in ("postgres://x", "classes.db", "http://redis", "sqlite:"):
        monkeypatch.setenv("NNVIZ_CLASS_STORE", bad)
        with pytest.raises(ValueError):
            open_store()
    with pytest.raises(ValueError):
        open_store("", ttl_s=math.inf)


def test_open_store_gives_redis_for_a_redis_url(redis_url, monkeypatch):
    monkeypatch.setenv("NNVIZ_CLASS_STORE", redis_url)
    store = open_store()
    assert isinstance(store, RedisStore) and store.ttl_s == cs.TTL_S == 12 * 3600
    store.close()


def test_wrong_codes_slow_a_session_down():
    now = [1000.0]
    throttle = WrongCodeThrottle(clock=lambda: now[0])
    for _ in range(4):
        assert throttle.failed("s") == 0 and throttle.wait_s("s") == 0
    assert throttle.failed("s") == 1.0  # the fifth miss within a minute: 2**0 s
    now[0] += 0.5
    assert throttle.wait_s("s") == pytest.approx(0.5) and throttle.wait_s("other") == 0
    now[0] += 0.5
    assert throttle.wait_s("s") == 0
    waits = [throttle.failed("s") for _ in range(8)]  # misses 6..13, all within the minute
    assert waits == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]
    now[0] += 61  # the misses fall out of the window
    assert throttle.wait_s("s") == 0 and throttle.failed("s") == 0
    for _ in range(5):
        throttle.failed("t")
    throttle.succeeded("t")  # a right code forgets the misses
    assert throttle.wait_s("t") == 0 and throttle.failed("t") == 0
    small = WrongCodeThrottle(max_sessions=10, clock=lambda: now[0])
    for i in range(100):
        small.failed(f"s{i}")
    assert len(small._misses) == 10  # memory stays bounded however many sessions miss
