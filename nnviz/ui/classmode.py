"""Class mode (issue 20): a teacher starts a class, students join by link, code or QR, follow the teacher's page and
tour step, commit their guesses to the class, and see the answer when the teacher reveals it.

Who is who lives in this session only (st.session_state[MEMBER]): the join code, and for the teacher the secret
(never in a URL the projector shows; a private teacher link can hand it to another browser). Everything shared
lives in the class store (nnviz.classstore), one per process, which every process serving the class reads:
- the teacher's pages publish (page, tour step, question, settings) at each run whose view changed (publish());
- a follower's page polls the class's version from a small fragment (st.fragment(run_every=POLL_S)) and reruns
  the page only when it changed; the page then takes the teacher's view, checked like a link
  (nnviz.classmode.teacher_view), before any widget exists (take_view(), called by nnviz.ui.lesson.begin);
- guesses go to the store (one per session and question); the projector draws their distribution live.
"""
from __future__ import annotations

import re
import secrets
import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import segno
import streamlit as st

from nnviz import classmode as C
from nnviz import lessons as Ls
from nnviz.classstore import (ClassNotFound, ClassStore, GuessRefused, StoreFull, WrongCodeThrottle,
                              format_code, normalize_code, open_store)
from nnviz.figures.classmode import class_guesses
from nnviz.figures.common import for_projector
from nnviz.text import inert

from .catalog import PAGES
from .frame import CHART_CONFIG, notice, presenting, reserve

CLASS, TEACH = "class", "teach"  # URL keys: the join code (a member's URL keeps it); a teacher link's secret
MEMBER = "_nnviz_class"  # session state: this session's Member, if it is in a class
_VIEW = "_nnviz_class_view"  # session state: the teacher's view this run's page is to take (take_view)
_CHANGING = "_nnviz_class_changing"  # session state: the question whose committed guess the student is changing
_ERROR = "_nnviz_class_error"  # session state: why "Start a class" failed, for the next run's notice
_TYPED = "_nnviz_class_typed"  # session state: a code typed on the home page, for enter() to look up
_SID = "_nnviz_class_sid"  # session state: the anonymous id the class knows this session by
_COOKIES = "_nnviz_class_cookies"  # session state: cookies the next run's sidebar script sets {name: value or None}
TEACHER_COOKIE, SID_COOKIE = "nnviz_teacher", "nnviz_sid"  # this browser's own: a reload keeps its role and its id
_COOKIE_VALUE = re.compile(r"[A-Za-z0-9_.-]{16,200}")
POLL_S = 1.0  # s between a follower's looks at the class's version (and the projector's count)
BAR_PX = 50  # px a projector's headline figure gives up to the class bar (the join card pushes it down whole)

_throttle = WrongCodeThrottle()
_lock = threading.Lock()
_store: ClassStore | None = None
_now = threading.local()  # this run's class state as read or written (the teacher's: after publish())

try:  # a store that cannot be reached: a notice, never a traceback
    from redis.exceptions import RedisError
    STORE_ERRORS: tuple[type[BaseException], ...] = (sqlite3.Error, OSError, RedisError)
except ImportError:  # pragma: no cover - redis is in requirements.txt
    STORE_ERRORS = (sqlite3.Error, OSError)


def store() -> ClassStore:
    """The process's class store (NNVIZ_CLASS_STORE; nnviz.classstore.open_store), opened on first use."""
    global _store
    with _lock:
        if _store is None:
            _store = open_store()
        return _store


@dataclass
class Member:
    code: str
    secret: str | None = None  # the teacher's; None for a student
    following: bool = True  # a student's page follows the teacher's
    applied: int = -1  # the class version this follower's page took last
    published: tuple | None = None  # the teacher's last published (page, step, question, settings)
    revealed: set = field(default_factory=set)  # the questions this teacher revealed: back at one, it stays revealed
    show_join: bool = False  # the teacher's join card is open on the projector
    join_until_question: bool = False  # ...until the first question (a class just started); False: until Hide

    @property
    def teacher(self) -> bool:
        return self.secret is not None


def member() -> Member | None:
    m = st.session_state.get(MEMBER)
    return m if isinstance(m, Member) else None


def following() -> bool:
    """A student whose page the teacher moves (the tour's own Back and Next then wait for the teacher)."""
    m = member()
    return m is not None and not m.teacher and m.following


def session_id() -> str:
    """The anonymous id the class knows this browser by: random, kept in a cookie of its own so that a reload is
    the same student (one guess per question, not two)."""
    sid = st.session_state.get(_SID)
    if sid is None:
        cookie = _cookie(SID_COOKIE)
        sid = cookie if cookie is not None and len(cookie) <= 64 and "." not in cookie else secrets.token_urlsafe(12)
        st.session_state[_SID] = sid
        if sid != cookie:
            _set_cookie(SID_COOKIE, sid)
    return sid


def _cookie(name: str) -> str | None:
    """A cookie of ours this browser sent with its page (checked: our own characters only), or None."""
    try:
        value = st.context.cookies.get(name)
    except Exception:  # no browser request (a bare run)
        return None
    return value if isinstance(value, str) and _COOKIE_VALUE.fullmatch(value) else None


def _set_cookie(name: str, value: str | None) -> None:
    """Set (None: delete) one of our cookies in this browser, by the next run's sidebar script."""
    st.session_state.setdefault(_COOKIES, {})[name] = value


def _cookie_script() -> None:
    """The pending cookies, as one fixed script (names and values are ours: [A-Za-z0-9_.-] only)."""
    pending = st.session_state.pop(_COOKIES, None)
    if not pending:
        return
    lines = []
    for name, value in pending.items():
        assert re.fullmatch(r"[a-z_]+", name) and (value is None or _COOKIE_VALUE.fullmatch(value))
        age = 0 if value is None else 43200  # the class's own lifetime: 12 h
        lines.append(f"document.cookie = '{name}={value or ''}; path=/; max-age={age}; samesite=strict' + "
                     "(location.protocol === 'https:' ? '; secure' : '');")
    st.html("<script>" + "".join(lines) + "</script>", unsafe_allow_javascript=True)


def _unavailable(e: BaseException) -> None:
    notice(f"Class mode is unavailable: the class store cannot be reached ({type(e).__name__}). "
           "The page works on its own.")


def _leave(message: str | None = None) -> None:
    st.session_state.pop(MEMBER, None)
    if CLASS in st.query_params:
        del st.query_params[CLASS]
    if message:
        notice(message)


def _is_teacher(code: str, secret: str) -> bool:
    try:
        return store().is_teacher(code, secret)
    except STORE_ERRORS:
        return False


def _join(code_text: Any, *, teacher_secret: str | None = None) -> bool:
    """Join the class `code_text` names (a student; with teacher_secret, as its teacher). A wrong code gets a
    notice, and a session's repeated wrong codes wait (WrongCodeThrottle)."""
    sid = session_id()
    wait = _throttle.wait_s(sid)
    if wait > 0:
        notice(f"Too many wrong class codes: wait {wait:.0f} s before the next try.")
        return False
    code = normalize_code(code_text)
    try:
        state = store().get_class(code) if code else None
        teacher = teacher_secret is not None and state is not None and store().is_teacher(code, teacher_secret)
    except STORE_ERRORS as e:
        _unavailable(e)
        return False
    if state is None or (teacher_secret is not None and not teacher):
        _throttle.failed(sid)
        shown = inert(str(code_text)) if not isinstance(code_text, str) or len(code_text) < 40 else "that code"
        notice(f"No class has the code {shown}: check it on the projector (a class that has ended is gone)."
               if teacher_secret is None else "This teacher link is not valid: its class has ended or the link is wrong.")
        return False
    _throttle.succeeded(sid)
    if teacher:
        _set_cookie(TEACHER_COOKIE, f"{code}.{teacher_secret}")
    old = member()
    if old is None or old.code != code or teacher:
        st.session_state[MEMBER] = Member(code, secret=teacher_secret if teacher else (old.secret if old and old.code == code else None))
    st.query_params[CLASS] = code
    _now.state = state
    return True


def _start() -> None:
    """The sidebar's "Start a class": a new class with this session as its teacher."""
    try:
        new = store().create_class()
    except StoreFull:
        st.session_state[_ERROR] = "The server already holds as many classes as it can; try again later."
        return
    except STORE_ERRORS as e:
        st.session_state[_ERROR] = f"The class store cannot be reached ({type(e).__name__})."
        return
    st.session_state[MEMBER] = Member(new.code, new.secret, show_join=True, join_until_question=True)
    st.query_params[CLASS] = new.code
    _set_cookie(TEACHER_COOKIE, f"{new.code}.{new.secret}")  # a reload of the projector stays the teacher


def _end() -> None:
    m = member()
    if m is not None and m.teacher:
        try:
            store().end_class(m.code, m.secret)
        except (ClassNotFound, PermissionError):
            pass  # gone already
        except STORE_ERRORS:
            return  # keep the class: the teacher can press End again
    _leave()
    _set_cookie(TEACHER_COOKIE, None)


def _quit() -> None:
    """A student's "Leave the class"."""
    _leave()


def _set_following(on: bool) -> None:
    m = member()
    if m is not None:
        m.following, m.applied = on, -1  # re-follow: take the teacher's view at once


def _toggle_join() -> None:
    m = member()
    if m is not None:
        m.show_join, m.join_until_question = not m.show_join, False


def _reveal() -> None:
    m = member()
    if m is None or not m.teacher:
        return
    try:
        state = store().set_state(m.code, m.secret, revealed=True)
        m.revealed.add(state.question)
    except (ClassNotFound, PermissionError, *STORE_ERRORS):
        pass  # the next run says what happened (the class is gone, or the store cannot be reached)


# --- the frame's part: on every run, before the page ------------------------------------------------------

def enter(page: str) -> None:
    """Called by the frame before the page runs: take a join or teacher link, check the class is still there,
    and (a follower) take the teacher's view when the class changed since this page took it."""
    _now.state = None
    error = st.session_state.pop(_ERROR, None)
    if error:
        notice(error)
    if CLASS in st.query_params or TEACH in st.query_params:
        raw = st.query_params.get_all(CLASS)
        secret = st.query_params.get_all(TEACH)
        if TEACH in st.query_params:
            del st.query_params[TEACH]  # the secret leaves the address bar at once
        m = member()
        code = normalize_code(raw[0]) if len(raw) == 1 else None
        if m is None and code and not secret:  # this browser's teacher, reloaded: its cookie holds the secret
            kept = (_cookie(TEACHER_COOKIE) or "").split(".", 1)
            if len(kept) == 2 and kept[0] == code and _is_teacher(code, kept[1]):
                st.session_state[MEMBER] = m = Member(code, kept[1])
        if m is None or m.code != code or (secret and not m.teacher):
            if not _join(raw[0] if len(raw) == 1 else "", teacher_secret=secret[0] if len(secret) == 1 else None):
                if CLASS in st.query_params and (m is None or m.code != code):
                    del st.query_params[CLASS]
    typed = st.session_state.pop(_TYPED, None)
    if typed is not None:
        _join(typed)
    m = member()
    if m is None:
        return
    if st.query_params.get(CLASS) != m.code:
        st.query_params[CLASS] = m.code  # a member's URL names the class: a reload rejoins it
    try:
        state = store().get_class(m.code) if _now.state is None else _now.state
    except STORE_ERRORS as e:
        _unavailable(e)
        return
    if state is None:
        _leave(f"Class {format_code(m.code)} has ended." if not m.teacher else
               f"Class {format_code(m.code)} is gone (ended, or 12 hours without activity).")
        return
    _now.state = state
    if m.teacher or not m.following or state.version == m.applied:
        return
    m.applied = state.version
    if not state.page:
        return  # the teacher has not opened a page yet
    try:
        view = C.teacher_view(state)
    except ValueError as e:
        notice(f"The teacher's page could not be followed ({e}).")
        return
    st.session_state[_VIEW] = view
    if view.page != page:
        path = next(p.path for p in PAGES if p.path.removeprefix("pages/").removesuffix(".py") == view.page)
        st.switch_page(path, query_params={CLASS: m.code})


def take_view(page: str) -> C.View | None:
    """The teacher's view this page is to take now (nnviz.ui.lesson.begin applies it before any widget)."""
    view = st.session_state.get(_VIEW)
    if view is not None and view.page == page:
        del st.session_state[_VIEW]
        return view
    return None


def publish(page: str, step: int | None, question: str | None, settings: dict[str, list[str]]) -> None:
    """The teacher's page as it is now, for the followers (only a change is written: each write wakes them)."""
    m = member()
    if m is None or not m.teacher:
        return
    key = (page, step or 0, question or "", settings)
    if m.published == key:
        return
    try:
        try:
            state = store().set_state(m.code, m.secret, page=page, step=step or 0, question=question or "",
                                      settings=settings, revealed=question in m.revealed)
        except ValueError:  # settings too large to share: the followers get the step's own
            state = store().set_state(m.code, m.secret, page=page, step=step or 0, question=question or "",
                                      settings={}, revealed=question in m.revealed)
    except (ClassNotFound, PermissionError):
        _leave(f"Class {format_code(m.code)} is gone (ended, or 12 hours without activity).")
        return
    except STORE_ERRORS as e:
        _unavailable(e)
        return
    m.published = key
    _now.state = state


# --- what the pages draw ----------------------------------------------------------------------------------

def _root_url() -> str:
    """The app's address (the home page), from the browser's current URL."""
    url = st.context.url or ""
    parts = urlsplit(url)
    path = parts.path
    for p in PAGES:
        name = p.path.removeprefix("pages/").removesuffix(".py")
        if path.endswith("/" + name):
            path = path[: -len(name)]
            break
    if not path.endswith("/"):
        path += "/"
    return f"{parts.scheme}://{parts.netloc}{path}" if parts.netloc else path


def join_link(code: str) -> str:
    return f"{_root_url()}?{urlencode({CLASS: format_code(code)})}"


def sidebar() -> None:
    """The sidebar's class section: start a class; the teacher's private link and End; a student's Leave."""
    _cookie_script()
    m = member()
    st.markdown("**Class mode**")
    if m is None:
        st.button("Start a class", icon=":material/groups:", key="class_start", on_click=_start,
                  help="Students join with a code or a QR code, follow your steps and answer your questions together.")
        st.caption("A student joins from the home page or the join link.")
    elif m.teacher:
        st.caption(f"You teach class **{format_code(m.code)}**.")
        with st.popover("Teacher link (private)", icon=":material/key:"):
            st.caption("Opens this class as its teacher in another browser. Never show it on the projector, and "
                       "open it only on your own device (a browser keeps it in its history).")
            st.code(f"{_root_url()}?{urlencode({CLASS: m.code, TEACH: m.secret})}", language=None, wrap_lines=True)
        st.button("End the class", icon=":material/stop_circle:", key="class_end_side", on_click=_end,
                  help="Deletes the class and every guess in it.")
    else:
        st.caption(f"You are in class **{format_code(m.code)}**.")
        st.button("Leave the class", icon=":material/logout:", key="class_quit", on_click=_quit)


def _qr_svg(link: str) -> str:
    return segno.make(link, error="m").svg_inline(scale=6, border=2, dark="#000000", light="#ffffff")


def join_card(big: bool = False) -> None:
    """The join code, link and QR code, for the projector."""
    m = member()
    if m is None:
        return
    link = join_link(m.code)
    with st.container(border=True, key="class_join", horizontal=True, vertical_alignment="center"):
        st.image(_qr_svg(link), width=260 if big else 170, alt=f"QR code of the join link {link}")
        with st.container():
            st.markdown(f"Join the class at {inert(link, 200)}")  # the address comes from the browser
            st.markdown("or type the code on the home page:")
            st.header(format_code(m.code), anchor=False)  # large, as text: no HTML
            if not big:
                st.button("Hide the join card", icon=":material/visibility_off:", key="class_join_hide",
                          on_click=_toggle_join, type="tertiary")


def bar(page: str) -> None:
    """The class line under the notices: the teacher's join card and controls, or a follower's (un)follow."""
    m = member()
    if m is None:
        return
    reserve(BAR_PX)
    if m.teacher:
        if m.join_until_question and _asks(page):  # a class just started: its first question takes the room
            m.show_join = m.join_until_question = False
        with st.container(horizontal=True, key="class_bar", vertical_alignment="center"):
            st.markdown(f"**Class {format_code(m.code)}** · you are the teacher")
            if page:  # the home page shows the join card
                st.button("Hide the join card" if m.show_join else "Show the join card", icon=":material/qr_code_2:",
                          key="class_join_toggle", on_click=_toggle_join)
            st.button("End the class", icon=":material/stop_circle:", key="class_end", on_click=_end,
                      help="Deletes the class and every guess in it.")
        if m.show_join and page:
            join_card()
    else:
        _follow_bar()


def _asks(page: str) -> bool:
    """Whether this run's page opens a question (its link's ?q=, or a tour step that asks one)."""
    if "q" in st.query_params:
        return True
    steps, step = Ls.TOURS.get(page, ()), st.query_params.get("tour", "")
    return step.isdigit() and 1 <= int(step) <= len(steps) and steps[int(step) - 1].question is not None


@st.fragment(run_every=POLL_S)
def _follow_bar() -> None:
    """A follower's class line, redrawn every POLL_S: a new class version (the teacher moved) reruns the page."""
    m = member()
    if m is None:
        return
    try:
        state = store().get_class(m.code)
    except STORE_ERRORS:
        state = ...  # cannot look now; look again at the next tick
    if state is None or (state is not ... and m.following and state.version != m.applied):
        st.rerun(scope="app")  # the page takes the teacher's view (or says the class has ended)
    with st.container(horizontal=True, key="class_bar", vertical_alignment="center"):
        st.markdown(f"**Class {format_code(m.code)}** · "
                    + ("following the teacher" if m.following else "exploring on your own"))
        # a button in a fragment reruns only the fragment: the page (the tour's Back and Next) must redraw too
        if m.following:
            if st.button("Unfollow", icon=":material/explore:", key="class_unfollow",
                         help="Explore on your own: the teacher's steps no longer move this page."):
                _set_following(False)
                st.rerun(scope="app")
        elif st.button("Follow the teacher", icon=":material/group:", key="class_follow", type="primary",
                       help="Back to the teacher's page and step."):
            _set_following(True)
            st.rerun(scope="app")


def join_form(top: bool) -> None:
    """The home page's class part: at the top, the teacher's join card; at the bottom (under the pages, which
    come first for a student on their own), the form that joins a class by its code."""
    m = member()
    if top:
        if m is not None and m.teacher:
            join_card(big=True)
        return
    if m is not None:
        return
    with st.form("class_join_form", border=True, enter_to_submit=True):
        st.text_input("Joining a class? Type the code from the projector", key="class_code_typed", max_chars=30,
                      placeholder="ABCDE-FGHJK")
        st.form_submit_button("Join", icon=":material/login:", on_click=_typed)


def _typed() -> None:
    """The join form's callback: the code is looked up by the run that follows (enter()), where a notice can show."""
    st.session_state[_TYPED] = st.session_state.get("class_code_typed") or ""
    st.session_state["class_code_typed"] = ""


# --- questions in a class ---------------------------------------------------------------------------------

@dataclass
class Asked:
    """The class's current question, as this session sees it."""
    teacher: bool
    revealed: bool
    guess: float | str | None  # a student's committed guess, as the store holds it


def asked(page: str, qid: str) -> Asked | None:
    """This question as the class's (None: not in a class, or not the class's question now). A student who
    unfollowed is still in the class: its open question stays the class's until the teacher reveals it (a verdict
    before the reveal would show the answer, and the class guess could then be changed to it)."""
    m, state = member(), getattr(_now, "state", None)
    if m is None or state is None or state.page != page or state.question != qid:
        return None
    if m.teacher:
        return Asked(True, state.revealed, None)
    if st.session_state.get(_CHANGING) == qid and not state.revealed:
        return Asked(False, False, None)
    try:
        guess = store().guess_of(m.code, session_id(), qid)
    except STORE_ERRORS:
        guess = None
    readable = C.readable(Ls.QUESTIONS[qid], [guess]) if guess is not None else []  # the store is data: check it
    return Asked(False, state.revealed, readable[0] if readable else None)


def commit(question: Ls.Question, value: float | str) -> tuple[bool, str | None]:
    """A student's committed guess: to the class when it is the class's question now. (taken by the class, the
    reason it was refused)."""
    m = member()
    if m is None or m.teacher:
        return False, None
    try:
        state = store().get_class(m.code)
        if state is None or state.question != question.id:
            return False, None  # not the class's question: a guess for this session only
        store().record_guess(m.code, session_id(), question.id, value)
    except GuessRefused:
        return False, "the teacher has revealed the answer, or moved on"
    except ClassNotFound:
        return False, None
    except STORE_ERRORS as e:
        return False, f"the class store cannot be reached ({type(e).__name__})"
    st.session_state.pop(_CHANGING, None)
    return True, None


def _change(qid: str) -> None:
    st.session_state[_CHANGING] = qid


def waiting(box: Any, q: Ls.Question, guess: float | str) -> None:
    """A student's committed class guess, before the reveal."""
    shown = inert(guess) if isinstance(guess, str) else f"{guess:.6g}"
    box.success(f"Your guess, {shown}{' ' + q.unit if q.unit and not isinstance(guess, str) else ''}, is in the "
                "class's count. The answer appears here when the teacher reveals it.", icon=":material/lock:")
    box.button("Change my guess", icon=":material/edit:", key="class_change", on_click=_change, args=(q.id,),
               help="Your new guess replaces this one.")


def _figure(fig) -> None:
    st.plotly_chart(for_projector(fig) if presenting() else fig, width="stretch", config=CHART_CONFIG,
                    key="class_guesses")


def teacher_question(box: Any, q: Ls.Question, settings: Ls.Settings, revealed: bool) -> bool:
    """The projector during a class question: the class's answers live, then Reveal; after it, the answer on the
    class's distribution. True: revealed (the page goes on to its figures)."""
    m = member()
    if not revealed:
        with box:
            _live_guesses(m.code, q.id, presenting())
        box.button("Reveal the answer", icon=":material/visibility:", type="primary", key="class_reveal",
                   on_click=_reveal, help="Every follower's page shows the verdict and the figure.")
        return False
    try:
        guesses = store().guesses(m.code, q.id)
    except STORE_ERRORS as e:
        _unavailable(e)
        guesses = []
    try:
        tally = C.tally(q, guesses, settings)
    except ValueError as e:
        box.info(f"At the settings on screen this question has no answer ({e}).")
        return True
    with box:
        _figure(class_guesses(q, C.distribution(q, guesses), tally))
        st.caption(tally.answer.text)
    return True


@st.fragment(run_every=POLL_S)
def _live_guesses(code: str, qid: str, present: bool) -> None:
    """The projector's count and distribution of the class's guesses, without the answer, redrawn every POLL_S."""
    q = Ls.QUESTIONS[qid]
    try:
        state = store().get_class(code)
        guesses = store().guesses(code, qid) if state is not None else []
    except STORE_ERRORS:
        st.caption("The class store cannot be reached; trying again.")
        return
    if state is None or state.question != qid or state.revealed:
        st.rerun(scope="app")  # ended, moved or revealed from another browser
    fig = class_guesses(q, C.distribution(q, guesses))
    st.plotly_chart(for_projector(fig) if present else fig, width="stretch", config=CHART_CONFIG, key="class_live")
