"""Class mode's shared store: a class's join code, the teacher's step and the students' pooled guesses.

Every app process serving a class reads and writes the same store, so the class lives here and not in
one process's memory. One interface (`ClassStore`), two stores:

    SQLiteStore(path)   one file (WAL mode) on one machine; any number of processes may write at once
                        (every write is one BEGIN IMMEDIATE transaction; busy_timeout waits for the lock).
    RedisStore(url)     several machines; every key of a class expires on its own (a TTL refreshed on
                        each write). One Redis server (or a primary with replicas), not Redis Cluster.

`open_store()` picks one from NNVIZ_CLASS_STORE: unset or empty -> SQLite in
$NNVIZ_DATA_DIR (default ./data, created), `redis://...` / `rediss://...` / `unix://...` -> Redis,
`sqlite:PATH` -> SQLite at PATH.

Who may do what: anyone with the join code may read the class and record a guess; only the holder of the
teacher secret may change the state, clear guesses or end the class (a wrong secret raises
PermissionError). The store keeps a SHA-256 of the secret, never the secret. A class, its state and its
guesses disappear after `ttl_s` (12 h) without a write (create, set_state, a guess, clear) or at
`end_class`. Nothing about a student is stored beyond the anonymous session id and their guesses, one
row per (session, question): a new guess replaces the old one. Every value is bounded (see the limits
below) and checked before anything is written: a bad value raises ValueError and writes nothing.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import queue
import re
import secrets
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple

# --- limits (each one is also a resource cap of a hosted app) -------------------------------------------

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: nothing to misread on a projector
CODE_LENGTH = 10                         # 10 symbols of 31: 49.5 bits, typed as ABCDE-FGHJK
CODE_BITS = CODE_LENGTH * math.log2(len(CODE_ALPHABET))
SECRET_BYTES = 32                        # the teacher secret: 256 random bits, 43 URL-safe characters
MAX_SECRET_CHARS = 128                   # a longer "secret" is refused unread (PermissionError)
TTL_S = 12 * 3600.0                      # a class with no write for this long is gone
MAX_CLASSES = 1000                       # live classes per store; create_class raises StoreFull beyond
MAX_SESSIONS_PER_CLASS = 500             # distinct sessions that may guess in one class
MAX_QUESTIONS_PER_CLASS = 100            # distinct questions with guesses in one class
MAX_SETTINGS_BYTES = 4096                # the state's settings dict as compact JSON (UTF-8 bytes)
MAX_STEP = 1000                          # tour step 0..MAX_STEP
MAX_GUESS_CHARS = 200                    # a text guess (a choice's name)

_SESSION_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")       # e.g. Streamlit's session uuid
_QUESTION_RE = re.compile(r"[A-Za-z0-9_.:/-]{1,80}")   # a question's id ("" in the state: no question)
_PAGE_RE = re.compile(r"[A-Za-z0-9_./-]{0,100}")       # a page's path or url name ("" = none yet)
_CODE_RE = re.compile(f"[{CODE_ALPHABET}]{{{CODE_LENGTH}}}")


# --- errors ---------------------------------------------------------------------------------------------

class ClassNotFound(LookupError):
    """A write named a class that does not exist (a wrong, ended or expired code)."""


class GuessRefused(ValueError):
    """The class does not take this guess now: not the teacher's current question, the answer is
    revealed, or the class already has MAX_SESSIONS_PER_CLASS students (or MAX_QUESTIONS_PER_CLASS)."""


class StoreFull(RuntimeError):
    """The store already holds MAX_CLASSES live classes."""


# --- values ---------------------------------------------------------------------------------------------

class NewClass(NamedTuple):
    code: str      # the join code (10 symbols); show it with format_code(), put it in the join link
    secret: str    # the teacher secret: keep it in the teacher's session only, never on the projector


@dataclass(frozen=True)
class ClassState:
    """What followers copy from the teacher. The UI still validates page/settings like URL values."""
    code: str
    page: str = ""                                  # the teacher's page ("" before the first set_state)
    step: int = 0                                   # the tour step on that page
    question: str = ""                              # the question the step asks, "" for none
    settings: dict = field(default_factory=dict)    # the page's settings (small JSON dict)
    revealed: bool = False                          # the teacher pressed Reveal for `question`
    version: int = 0                                # +1 on every set_state: poll and compare


def new_code() -> str:
    """A fresh join code: CODE_LENGTH symbols drawn with `secrets` (CODE_BITS ~ 49.5 bits)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: Any) -> str | None:
    """The code in what a student typed or a URL held (case, spaces and hyphens ignored), or None."""
    if not isinstance(text, str) or len(text) > 3 * CODE_LENGTH:
        return None
    code = re.sub(r"[\s-]", "", text).upper()
    return code if _CODE_RE.fullmatch(code) else None


def format_code(code: str) -> str:
    """ABCDE-FGHJK: the code as the projector shows it."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _secret_hash_or_deny(secret: Any) -> str:
    if not isinstance(secret, str) or not 0 < len(secret) <= MAX_SECRET_CHARS:
        raise PermissionError("not the teacher of this class")
    return _hash_secret(secret)


def check_session_id(session_id: Any) -> str:
    if not isinstance(session_id, str) or not _SESSION_RE.fullmatch(session_id):
        raise ValueError("a session id is 1 to 64 characters A-Z a-z 0-9 _ -")
    return session_id


def check_question_id(question_id: Any, *, allow_empty: bool = False) -> str:
    if allow_empty and question_id == "":
        return ""
    if not isinstance(question_id, str) or not _QUESTION_RE.fullmatch(question_id):
        raise ValueError("a question id is 1 to 80 characters A-Z a-z 0-9 _ . : / -")
    return question_id


def check_page(page: Any) -> str:
    if not isinstance(page, str) or not _PAGE_RE.fullmatch(page):
        raise ValueError("a page is 0 to 100 characters A-Z a-z 0-9 _ . / -")
    return page


def check_step(step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= MAX_STEP:
        raise ValueError(f"a step is a whole number from 0 to {MAX_STEP}")
    return step


def settings_json(settings: Any) -> str:
    """The settings dict as compact JSON, or ValueError: string keys, finite numbers, <= MAX_SETTINGS_BYTES."""
    if not isinstance(settings, dict):
        raise ValueError("settings must be a dict")
    try:
        text = json.dumps(settings, allow_nan=False, separators=(",", ":"), sort_keys=True)
    except (TypeError, ValueError, RecursionError) as e:
        raise ValueError(f"settings must be plain JSON with finite numbers ({type(e).__name__})") from None
    if json.loads(text) != settings:  # a key that is not a string, a tuple: it would not come back as given
        raise ValueError("settings must be plain JSON: string keys, lists, numbers, strings, bools, None")
    if len(text.encode()) > MAX_SETTINGS_BYTES:
        raise ValueError(f"settings are over {MAX_SETTINGS_BYTES} bytes as JSON")
    return text


def guess_json(value: Any) -> str:
    """A guess as stored: a finite number (kept as float) or a text of 1..MAX_GUESS_CHARS characters."""
    if isinstance(value, bool):
        raise ValueError("a guess is a number or a text, not a bool")
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:
            raise ValueError("a number guess must be finite") from None
        if not math.isfinite(number):
            raise ValueError("a number guess must be finite")
        return json.dumps(number)
    if isinstance(value, str):
        if not 0 < len(value) <= MAX_GUESS_CHARS or "\x00" in value:
            raise ValueError(f"a text guess is 1 to {MAX_GUESS_CHARS} characters")
        return json.dumps(value)
    raise ValueError("a guess is a number or a text")


def _guess_from_json(text: str) -> str | float | None:
    """A stored guess read back (validated again: a store is data, not code); None if it is not one."""
    try:
        value = json.loads(text)
        guess_json(value)
    except (ValueError, TypeError):
        return None
    return float(value) if isinstance(value, (int, float)) else value


def _state_from(code: str, page: Any, step: Any, question: Any, settings: Any, revealed: Any,
                version: Any) -> ClassState | None:
    """A state read back from the store, checked like a written one; None if any field is bad."""
    try:
        settings_dict = json.loads(settings)
        settings_json(settings_dict)
        return ClassState(code=code, page=check_page(page), step=check_step(int(step)),
                          question=check_question_id(question, allow_empty=True), settings=settings_dict,
                          revealed=str(revealed) in ("1", "True", "true"), version=int(version))
    except (ValueError, TypeError):
        return None


# --- the interface --------------------------------------------------------------------------------------

class ClassStore(ABC):
    """What a class needs. The public methods check every argument, then call the store's `_...`."""

    ttl_s: float
    max_classes: int

    def create_class(self) -> NewClass:
        """A new class with an empty state (page "", step 0, no question). Raises StoreFull."""
        secret = secrets.token_urlsafe(SECRET_BYTES)
        for _ in range(8):  # a collision of 49.5-bit codes is astronomically rare; retry anyway
            code = new_code()
            if self._create(code, _hash_secret(secret)):
                return NewClass(code, secret)
        raise RuntimeError("could not draw a free class code")

    def get_class(self, code: Any) -> ClassState | None:
        """The class's state for a typed or linked code; None for a malformed, wrong, ended or expired one."""
        code = normalize_code(code)
        return None if code is None else self._get(code)

    state = get_class  # followers poll `state(code)` and compare `.version`

    def is_teacher(self, code: Any, secret: Any) -> bool:
        """Whether `secret` is this live class's teacher secret."""
        code = normalize_code(code)
        try:
            digest = _secret_hash_or_deny(secret)
        except PermissionError:
            return False
        stored = None if code is None else self._secret_hash(code)
        return stored is not None and hmac.compare_digest(stored, digest)

    def set_state(self, code: Any, secret: Any, *, page: str | None = None, step: int | None = None,
                  question: str | None = None, settings: dict | None = None,
                  revealed: bool | None = None) -> ClassState:
        """Change the fields given (others keep their values) and add 1 to the version.
        A new `question` without `revealed` resets revealed to False.
        ValueError: a bad value. ClassNotFound: no such live class. PermissionError: wrong secret."""
        fields: dict[str, str] = {}
        if page is not None:
            fields["page"] = check_page(page)
        if step is not None:
            fields["step"] = str(check_step(step))
        if question is not None:
            fields["question"] = check_question_id(question, allow_empty=True)
        if settings is not None:
            fields["settings"] = settings_json(settings)
        if revealed is not None:
            if not isinstance(revealed, bool):
                raise ValueError("revealed is True or False")
            fields["revealed"] = "1" if revealed else "0"
        digest = _secret_hash_or_deny(secret)
        code = self._code_or_not_found(code)
        return self._set_state(code, digest, fields)

    def record_guess(self, code: Any, session_id: str, question_id: str, value: str | float) -> None:
        """Store this session's guess for the teacher's current question, replacing its earlier one.
        ValueError: a bad value. GuessRefused (a ValueError): not the current question, revealed, class
        full. ClassNotFound: no such live class."""
        session_id = check_session_id(session_id)
        question_id = check_question_id(question_id)
        stored = guess_json(value)
        code = self._code_or_not_found(code)
        self._record_guess(code, session_id, question_id, stored)

    def count_guesses(self, code: Any, question_id: str) -> int:
        """How many sessions have a guess for the question (0 for an unknown class)."""
        code, question_id = normalize_code(code), check_question_id(question_id)
        return 0 if code is None else self._count(code, question_id)

    def guesses(self, code: Any, question_id: str) -> list[str | float]:
        """Every session's guess for the question, in no particular order (numbers come back as float)."""
        code, question_id = normalize_code(code), check_question_id(question_id)
        if code is None:
            return []
        return [g for g in map(_guess_from_json, self._guesses(code, question_id)) if g is not None]

    def guess_of(self, code: Any, session_id: str, question_id: str) -> str | float | None:
        """This session's guess for the question, or None."""
        code = normalize_code(code)
        session_id, question_id = check_session_id(session_id), check_question_id(question_id)
        raw = None if code is None else self._guess_of(code, session_id, question_id)
        return None if raw is None else _guess_from_json(raw)

    def clear_guesses(self, code: Any, secret: Any, question_id: str) -> None:
        """Delete the question's guesses (a re-vote). PermissionError, ClassNotFound as set_state."""
        question_id = check_question_id(question_id)
        digest = _secret_hash_or_deny(secret)
        self._clear(self._code_or_not_found(code), digest, question_id)

    def end_class(self, code: Any, secret: Any) -> None:
        """Delete the class, its state and all its guesses. PermissionError, ClassNotFound as set_state."""
        digest = _secret_hash_or_deny(secret)
        self._end(self._code_or_not_found(code), digest)

    def expires_in(self, code: Any) -> float | None:
        """Seconds until the class expires unless something writes to it; None if it is gone."""
        code = normalize_code(code)
        return None if code is None else self._expires_in(code)

    def close(self) -> None:
        """Release connections (the store is unusable after)."""

    @staticmethod
    def _code_or_not_found(code: Any) -> str:
        normal = normalize_code(code)
        if normal is None:
            raise ClassNotFound("no such class")
        return normal

    # what each store implements (arguments already checked, code normalized, secret hashed)
    @abstractmethod
    def _create(self, code: str, secret_hash: str) -> bool: ...  # False: the code is taken
    @abstractmethod
    def _get(self, code: str) -> ClassState | None: ...
    @abstractmethod
    def _secret_hash(self, code: str) -> str | None: ...
    @abstractmethod
    def _set_state(self, code: str, secret_hash: str, fields: dict[str, str]) -> ClassState: ...
    @abstractmethod
    def _record_guess(self, code: str, session: str, question: str, value: str) -> None: ...
    @abstractmethod
    def _count(self, code: str, question: str) -> int: ...
    @abstractmethod
    def _guesses(self, code: str, question: str) -> list[str]: ...
    @abstractmethod
    def _guess_of(self, code: str, session: str, question: str) -> str | None: ...
    @abstractmethod
    def _clear(self, code: str, secret_hash: str, question: str) -> None: ...
    @abstractmethod
    def _end(self, code: str, secret_hash: str) -> None: ...
    @abstractmethod
    def _expires_in(self, code: str) -> float | None: ...


def _check_limits(ttl_s: float, max_classes: int) -> None:
    if not (isinstance(ttl_s, (int, float)) and math.isfinite(ttl_s) and ttl_s > 0):
        raise ValueError("ttl_s must be a positive number of seconds")
    if isinstance(max_classes, bool) or not isinstance(max_classes, int) or max_classes < 1:
        raise ValueError("max_classes must be a whole number >= 1")


# --- SQLite ---------------------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS classes (
    code TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    page TEXT NOT NULL DEFAULT '',
    step INTEGER NOT NULL DEFAULT 0,
    question TEXT NOT NULL DEFAULT '',
    settings TEXT NOT NULL DEFAULT '{}',
    revealed INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 0,
    active REAL NOT NULL                  -- time of the last write (expires at active + ttl)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS classes_active ON classes(active);
CREATE TABLE IF NOT EXISTS guesses (
    code TEXT NOT NULL,
    question TEXT NOT NULL,
    session TEXT NOT NULL,
    value TEXT NOT NULL,                  -- JSON: a number or a string
    PRIMARY KEY (code, question, session)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS members (      -- the sessions that have guessed in a class (for the cap)
    code TEXT NOT NULL,
    session TEXT NOT NULL,
    PRIMARY KEY (code, session)
) WITHOUT ROWID;
"""


class SQLiteStore(ClassStore):
    """Classes in one SQLite file (WAL). Safe for many threads and processes: connections come from a
    small per-process pool, every write is one BEGIN IMMEDIATE transaction, and a writer waits up to
    `busy_timeout_s` for another's lock. Expired classes are invisible at once and deleted by
    purge_expired(), which writes run at most once a minute (and create_class always)."""

    POOL_SIZE = 8          # idle connections kept per process
    PURGE_EVERY_S = 60.0   # writes purge expired classes at most this often

    def __init__(self, path: str | os.PathLike, *, ttl_s: float = TTL_S, max_classes: int = MAX_CLASSES,
                 busy_timeout_s: float = 10.0, clock: Callable[[], float] = time.time):
        _check_limits(ttl_s, max_classes)
        self.path = Path(path)
        self.ttl_s, self.max_classes = float(ttl_s), max_classes
        self._busy_ms = int(busy_timeout_s * 1000)
        self._clock = clock
        self._pool: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._pid = os.getpid()
        self._last_purge = -math.inf
        with self._conn() as db:  # WAL and the schema, once per file (idempotent; busy_timeout waits)
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    # connections
    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=self._busy_ms / 1000, isolation_level=None,
                             check_same_thread=False)
        db.execute(f"PRAGMA busy_timeout={self._busy_ms}")
        db.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable at checkpoints, never corrupt
        return db

    class _Lease:
        def __init__(self, store: "SQLiteStore"):
            self.store = store

        def __enter__(self) -> sqlite3.Connection:
            store = self.store
            if store._pid != os.getpid():  # a forked child must not share its parent's connections
                store._pool, store._pid = queue.SimpleQueue(), os.getpid()
            try:
                self.db = store._pool.get_nowait()
            except queue.Empty:
                self.db = store._connect()
            return self.db

        def __exit__(self, exc_type, exc, tb) -> None:
            if self.db.in_transaction:
                self.db.rollback()
            if self.store._pool.qsize() < self.store.POOL_SIZE:
                self.store._pool.put(self.db)
            else:
                self.db.close()

    def _conn(self) -> "SQLiteStore._Lease":
        return SQLiteStore._Lease(self)

    def close(self) -> None:
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                return

    # expiry
    def _alive_since(self) -> float:
        return self._clock() - self.ttl_s

    def purge_expired(self) -> int:
        """Delete every expired class with its guesses; returns how many classes went."""
        with self._conn() as db, _Tx(db):
            return self._purge(db)

    def _purge(self, db: sqlite3.Connection) -> int:
        cutoff = self._alive_since()
        dead = "SELECT code FROM classes WHERE active < ?"
        db.execute(f"DELETE FROM guesses WHERE code IN ({dead})", (cutoff,))
        db.execute(f"DELETE FROM members WHERE code IN ({dead})", (cutoff,))
        self._last_purge = self._clock()
        return db.execute("DELETE FROM classes WHERE active < ?", (cutoff,)).rowcount

    def _maybe_purge(self, db: sqlite3.Connection) -> None:
        if self._clock() - self._last_purge >= self.PURGE_EVERY_S:
            self._purge(db)

    def _live(self, db: sqlite3.Connection, code: str) -> tuple | None:
        return db.execute("SELECT secret_hash, page, step, question, settings, revealed, version FROM classes "
                          "WHERE code = ? AND active >= ?", (code, self._alive_since())).fetchone()

    def _teacher_row(self, db: sqlite3.Connection, code: str, secret_hash: str) -> tuple:
        row = self._live(db, code)
        if row is None:
            raise ClassNotFound("no such class")
        if not hmac.compare_digest(row[0], secret_hash):
            raise PermissionError("not the teacher of this class")
        return row

    # operations
    def _create(self, code: str, secret_hash: str) -> bool:
        with self._conn() as db, _Tx(db):
            self._purge(db)
            if db.execute("SELECT 1 FROM classes WHERE code = ?", (code,)).fetchone():
                return False
            if db.execute("SELECT COUNT(*) FROM classes").fetchone()[0] >= self.max_classes:
                raise StoreFull(f"{self.max_classes} classes are running; try again later")
            db.execute("INSERT INTO classes (code, secret_hash, active) VALUES (?, ?, ?)",
                       (code, secret_hash, self._clock()))
            return True

    def _get(self, code: str) -> ClassState | None:
        with self._conn() as db:
            row = self._live(db, code)
        return None if row is None else _state_from(code, *row[1:])

    def _secret_hash(self, code: str) -> str | None:
        with self._conn() as db:
            row = self._live(db, code)
        return None if row is None else row[0]

    def _set_state(self, code: str, secret_hash: str, fields: dict[str, str]) -> ClassState:
        with self._conn() as db, _Tx(db):
            row = self._teacher_row(db, code, secret_hash)
            if "question" in fields and fields["question"] != row[3] and "revealed" not in fields:
                fields = {**fields, "revealed": "0"}
            sets = "".join(f"{name} = ?, " for name in fields)  # names from set_state's fixed list
            db.execute(f"UPDATE classes SET {sets}version = version + 1, active = ? WHERE code = ?",
                       (*fields.values(), self._clock(), code))
            self._maybe_purge(db)
            row = self._live(db, code)
        state = _state_from(code, *row[1:])
        assert state is not None
        return state

    def _record_guess(self, code: str, session: str, question: str, value: str) -> None:
        with self._conn() as db, _Tx(db):
            row = self._live(db, code)
            if row is None:
                raise ClassNotFound("no such class")
            _refuse_guess(current=row[3], revealed=bool(row[5]), question=question)
            member = db.execute("SELECT 1 FROM members WHERE code = ? AND session = ?", (code, session)).fetchone()
            if not member and db.execute("SELECT COUNT(*) FROM members WHERE code = ?",
                                         (code,)).fetchone()[0] >= MAX_SESSIONS_PER_CLASS:
                raise GuessRefused(f"this class already has {MAX_SESSIONS_PER_CLASS} students")
            asked = db.execute("SELECT 1 FROM guesses WHERE code = ? AND question = ? LIMIT 1",
                               (code, question)).fetchone()
            if not asked and db.execute("SELECT COUNT(DISTINCT question) FROM guesses WHERE code = ?",
                                        (code,)).fetchone()[0] >= MAX_QUESTIONS_PER_CLASS:
                raise GuessRefused(f"this class already has guesses for {MAX_QUESTIONS_PER_CLASS} questions")
            db.execute("INSERT INTO guesses (code, question, session, value) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT (code, question, session) DO UPDATE SET value = excluded.value",
                       (code, question, session, value))
            db.execute("INSERT OR IGNORE INTO members (code, session) VALUES (?, ?)", (code, session))
            db.execute("UPDATE classes SET active = ? WHERE code = ?", (self._clock(), code))
            self._maybe_purge(db)

    def _count(self, code: str, question: str) -> int:
        with self._conn() as db:
            if self._live(db, code) is None:
                return 0
            return db.execute("SELECT COUNT(*) FROM guesses WHERE code = ? AND question = ?",
                              (code, question)).fetchone()[0]

    def _guesses(self, code: str, question: str) -> list[str]:
        with self._conn() as db:
            if self._live(db, code) is None:
                return []
            return [v for (v,) in db.execute("SELECT value FROM guesses WHERE code = ? AND question = ?",
                                             (code, question))]

    def _guess_of(self, code: str, session: str, question: str) -> str | None:
        with self._conn() as db:
            if self._live(db, code) is None:
                return None
            row = db.execute("SELECT value FROM guesses WHERE code = ? AND question = ? AND session = ?",
                             (code, question, session)).fetchone()
        return None if row is None else row[0]

    def _clear(self, code: str, secret_hash: str, question: str) -> None:
        with self._conn() as db, _Tx(db):
            self._teacher_row(db, code, secret_hash)
            db.execute("DELETE FROM guesses WHERE code = ? AND question = ?", (code, question))
            db.execute("UPDATE classes SET active = ? WHERE code = ?", (self._clock(), code))

    def _end(self, code: str, secret_hash: str) -> None:
        with self._conn() as db, _Tx(db):
            self._teacher_row(db, code, secret_hash)
            for table in ("guesses", "members", "classes"):
                db.execute(f"DELETE FROM {table} WHERE code = ?", (code,))
            self._purge(db)

    def _expires_in(self, code: str) -> float | None:
        with self._conn() as db:
            row = db.execute("SELECT active FROM classes WHERE code = ? AND active >= ?",
                             (code, self._alive_since())).fetchone()
        return None if row is None else row[0] + self.ttl_s - self._clock()


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT (or ROLLBACK on an exception): one writer at a time across processes."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")


def _refuse_guess(*, current: str, revealed: bool, question: str) -> None:
    if question != current:
        raise GuessRefused("the teacher is not asking this question now")
    if revealed:
        raise GuessRefused("the answer is already revealed")


# --- Redis ----------------------------------------------------------------------------------------------

# Keys of class C (all expire ttl after the class's last write):
#   nnviz:class:{C}             hash: secret, page, step, question, settings, revealed, version
#   nnviz:class:{C}:sessions    set of the sessions that have guessed (the cap)
#   nnviz:class:{C}:questions   set of the questions that have guesses
#   nnviz:class:{C}:g:QUESTION  hash: session -> guess (JSON)
#   nnviz:classes               sorted set: code -> expiry (ms), to count live classes for max_classes
# Each write is one Lua script, so it is atomic against every other process and machine.

_LUA_TOUCH = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function touch(meta, sessions, questions, index, prefix, code, ttl)
  redis.call('PEXPIRE', meta, ttl)
  redis.call('PEXPIRE', sessions, ttl)
  redis.call('PEXPIRE', questions, ttl)
  for _, q in ipairs(redis.call('SMEMBERS', questions)) do redis.call('PEXPIRE', prefix .. q, ttl) end
  redis.call('ZADD', index, now_ms() + ttl, code)
  redis.call('PEXPIRE', index, ttl)
end
"""

# KEYS: meta, sessions, questions, index   ARGV: prefix, code, ttl_ms, then per script
_LUA_CREATE = _LUA_TOUCH + """
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now_ms())
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[5]) then return -1 end
redis.call('HSET', KEYS[1], 'secret', ARGV[4], 'page', '', 'step', '0', 'question', '', 'settings', '{}',
           'revealed', '0', 'version', '0')
touch(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3])
return 1
"""

_LUA_TEACHER = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HGET', KEYS[1], 'secret') ~= ARGV[4] then return -2 end
"""

# ARGV[5..]: field, value pairs
_LUA_SET_STATE = _LUA_TOUCH + _LUA_TEACHER + """
local old_question = redis.call('HGET', KEYS[1], 'question')
local new_question, revealed_given = nil, false
for i = 5, #ARGV, 2 do
  if ARGV[i] == 'question' then new_question = ARGV[i + 1] end
  if ARGV[i] == 'revealed' then revealed_given = true end
end
if #ARGV >= 5 then redis.call('HSET', KEYS[1], unpack(ARGV, 5)) end
if new_question and new_question ~= old_question and not revealed_given then
  redis.call('HSET', KEYS[1], 'revealed', '0')
end
redis.call('HINCRBY', KEYS[1], 'version', 1)
touch(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3])
return redis.call('HMGET', KEYS[1], 'page', 'step', 'question', 'settings', 'revealed', 'version')
"""

# ARGV: prefix, code, ttl, session, question, value, max_sessions, max_questions
_LUA_GUESS = _LUA_TOUCH + """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HGET', KEYS[1], 'question') ~= ARGV[5] then return -2 end
if redis.call('HGET', KEYS[1], 'revealed') == '1' then return -3 end
if redis.call('SISMEMBER', KEYS[2], ARGV[4]) == 0 and redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[7]) then
  return -4
end
if redis.call('SISMEMBER', KEYS[3], ARGV[5]) == 0 and redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[8]) then
  return -5
end
redis.call('HSET', ARGV[1] .. ARGV[5], ARGV[4], ARGV[6])
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('SADD', KEYS[3], ARGV[5])
touch(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3])
return 1
"""

# ARGV: prefix, code, ttl, secret_hash, question
_LUA_CLEAR = _LUA_TOUCH + _LUA_TEACHER + """
redis.call('DEL', ARGV[1] .. ARGV[5])
redis.call('SREM', KEYS[3], ARGV[5])
touch(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3])
return 1
"""

# ARGV: prefix, code, ttl, secret_hash
_LUA_END = _LUA_TOUCH + _LUA_TEACHER + """
for _, q in ipairs(redis.call('SMEMBERS', KEYS[3])) do redis.call('DEL', ARGV[1] .. q) end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[2])
return 1
"""


class RedisStore(ClassStore):
    """Classes in Redis (redis-py; thread-safe connection pool). Keys expire on their own `ttl_s` after
    the class's last write; several machines may share one server."""

    INDEX = "nnviz:classes"

    def __init__(self, url: str, *, ttl_s: float = TTL_S, max_classes: int = MAX_CLASSES,
                 socket_timeout_s: float = 5.0):
        import redis  # only a Redis host needs redis-py

        _check_limits(ttl_s, max_classes)
        self.ttl_s, self.max_classes = float(ttl_s), max_classes
        self._ttl_ms = max(1, round(self.ttl_s * 1000))
        self.redis = redis.Redis.from_url(url, decode_responses=True, socket_timeout=socket_timeout_s,
                                          socket_connect_timeout=socket_timeout_s, health_check_interval=30)
        self._scripts = {name: self.redis.register_script(src) for name, src in (
            ("create", _LUA_CREATE), ("set_state", _LUA_SET_STATE), ("guess", _LUA_GUESS),
            ("clear", _LUA_CLEAR), ("end", _LUA_END))}

    def close(self) -> None:
        self.redis.close()

    def _keys(self, code: str) -> list[str]:
        base = f"nnviz:class:{{{code}}}"
        return [base, base + ":sessions", base + ":questions", self.INDEX]

    def _run(self, name: str, code: str, *args: Any) -> Any:
        prefix = f"nnviz:class:{{{code}}}:g:"
        return self._scripts[name](keys=self._keys(code), args=[prefix, code, self._ttl_ms, *args])

    @staticmethod
    def _teacher_result(result: Any) -> Any:
        if result == -1:
            raise ClassNotFound("no such class")
        if result == -2:
            raise PermissionError("not the teacher of this class")
        return result

    def _create(self, code: str, secret_hash: str) -> bool:
        result = self._run("create", code, secret_hash, self.max_classes)
        if result == -1:
            raise StoreFull(f"{self.max_classes} classes are running; try again later")
        return result == 1

    def _get(self, code: str) -> ClassState | None:
        values = self.redis.hmget(self._keys(code)[0], "page", "step", "question", "settings", "revealed",
                                  "version")
        if values[-1] is None:
            return None
        return _state_from(code, *values)

    def _secret_hash(self, code: str) -> str | None:
        return self.redis.hget(self._keys(code)[0], "secret")

    def _set_state(self, code: str, secret_hash: str, fields: dict[str, str]) -> ClassState:
        pairs = [x for item in fields.items() for x in item]
        values = self._teacher_result(self._run("set_state", code, secret_hash, *pairs))
        state = _state_from(code, *values)
        assert state is not None
        return state

    def _record_guess(self, code: str, session: str, question: str, value: str) -> None:
        result = self._run("guess", code, session, question, value, MAX_SESSIONS_PER_CLASS, MAX_QUESTIONS_PER_CLASS)
        if result == -1:
            raise ClassNotFound("no such class")
        if result == -2:
            raise GuessRefused("the teacher is not asking this question now")
        if result == -3:
            raise GuessRefused("the answer is already revealed")
        if result == -4:
            raise GuessRefused(f"this class already has {MAX_SESSIONS_PER_CLASS} students")
        if result == -5:
            raise GuessRefused(f"this class already has guesses for {MAX_QUESTIONS_PER_CLASS} questions")

    def _guess_key(self, code: str, question: str) -> str:
        return f"nnviz:class:{{{code}}}:g:{question}"

    def _count(self, code: str, question: str) -> int:
        return int(self.redis.hlen(self._guess_key(code, question)))

    def _guesses(self, code: str, question: str) -> list[str]:
        return list(self.redis.hvals(self._guess_key(code, question)))

    def _guess_of(self, code: str, session: str, question: str) -> str | None:
        return self.redis.hget(self._guess_key(code, question), session)

    def _clear(self, code: str, secret_hash: str, question: str) -> None:
        self._teacher_result(self._run("clear", code, secret_hash, question))

    def _end(self, code: str, secret_hash: str) -> None:
        self._teacher_result(self._run("end", code, secret_hash))

    def _expires_in(self, code: str) -> float | None:
        ms = self.redis.pttl(self._keys(code)[0])
        return None if ms < 0 else ms / 1000


# --- choosing a store -----------------------------------------------------------------------------------

def default_data_dir() -> Path:
    """$NNVIZ_DATA_DIR, or ./data (relative to the working directory: the app's folder)."""
    return Path(os.environ.get("NNVIZ_DATA_DIR") or "data")


def open_store(spec: str | None = None, **options: Any) -> ClassStore:
    """The store that `spec` (default: $NNVIZ_CLASS_STORE) names: "" -> SQLite file classes.sqlite3 in
    default_data_dir() (created); "redis://..." (or rediss://, unix://) -> Redis; "sqlite:PATH" -> SQLite
    at PATH. `options` go to the store (ttl_s, max_classes). Anything else raises ValueError."""
    spec = (os.environ.get("NNVIZ_CLASS_STORE", "") if spec is None else spec).strip()
    if spec.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(spec, **options)
    if spec.startswith("sqlite:"):
        path = Path(spec.removeprefix("sqlite:").removeprefix("//"))
        if not path.name:
            raise ValueError("sqlite:PATH needs a file name")
    elif spec == "":
        path = default_data_dir() / "classes.sqlite3"
    else:
        raise ValueError("NNVIZ_CLASS_STORE is empty (SQLite in the data folder), redis://... or sqlite:PATH")
    path.parent.mkdir(parents=True, exist_ok=True)
    return SQLiteStore(path, **options)


# --- slowing down repeated wrong codes ------------------------------------------------------------------

class WrongCodeThrottle:
    """Per-session slowdown for wrong join codes, in this process's memory (a student's session stays on
    one process). After `free` misses within `window_s`, each further miss makes the session wait
    2**(misses - free) seconds (1, 2, 4, ...) up to `max_wait_s` before its next try is looked up.

        wait = throttle.wait_s(session_id)      # > 0: say "wait N s", do not look the code up
        if store.get_class(code) is None: throttle.failed(session_id)
        else: throttle.succeeded(session_id)
    """

    def __init__(self, *, free: int = 5, window_s: float = 60.0, max_wait_s: float = 60.0,
                 max_sessions: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.free, self.window_s, self.max_wait_s = free, window_s, max_wait_s
        self.max_sessions, self._clock = max_sessions, clock
        self._misses: OrderedDict[str, deque[float]] = OrderedDict()  # session -> miss times, oldest first
        self._lock = threading.Lock()

    def _recent(self, session_id: str, now: float) -> deque[float]:
        misses = self._misses.get(session_id, deque())
        while misses and misses[0] < now - self.window_s:
            misses.popleft()
        return misses

    def _wait(self, misses: deque[float], now: float) -> float:
        if len(misses) < self.free:
            return 0.0
        wait = min(self.max_wait_s, 2.0 ** (len(misses) - self.free))
        return max(0.0, misses[-1] + wait - now)

    def wait_s(self, session_id: str) -> float:
        """Seconds this session must wait before its next code is looked up (0: go ahead)."""
        with self._lock:
            now = self._clock()
            return self._wait(self._recent(session_id, now), now)

    def failed(self, session_id: str) -> float:
        """Record a wrong code; returns the wait it now imposes."""
        with self._lock:
            now = self._clock()
            misses = self._recent(session_id, now)
            misses.append(now)
            self._misses[session_id] = misses
            self._misses.move_to_end(session_id)
            while len(self._misses) > self.max_sessions:  # bounded memory: forget the stalest sessions
                self._misses.popitem(last=False)
            return self._wait(misses, now)

    def succeeded(self, session_id: str) -> None:
        """A right code: forget this session's misses."""
        with self._lock:
            self._misses.pop(session_id, None)
