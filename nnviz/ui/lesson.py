"""Predict, then reveal, and the guided tours: the lesson panel every page shows above its figure.

The questions and tours are data (nnviz.lessons). A link opens a page at a question (`?q=<id>`) or at
a step of its tour (`?tour=<n>`); the settings they name are applied through the same URL-bound
widgets a student moves. While a question is open and no guess is committed, the page stops after its
settings (gate()): no figure, table or number that answers it is sent. A guess lives only in this
session's st.session_state (nothing about a student is stored or put in a link).

A page calls begin(page) before it creates its widgets (a link's or a button's settings must be in
place before the widgets read them) and .gate() after them.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from nnviz import lessons as Ls
from nnviz.controls import BadValue, MultiChoiceSpec, NumberListSpec

from nnviz.figures.answers import answer_figure

from . import classmode
from .frame import CONTROLS, FRAME_KEYS, SET_BY_LESSON, notice, presenting, reserve, show_figure
from .widgets import _shown, seed_from

Q, TOUR = "q", "tour"  # the URL keys: plain query params (not widgets), shared by every page's lesson panel
_GUESSES = "_nnviz_guesses"  # {question id: the committed guess}, this session only
_ERROR = "_nnviz_guess_error"  # {question id: why the last guess could not be read}
_PENDING = "_nnviz_question_pending"  # the question on screen without a guess, if any
_SEEN = "_nnviz_seen_unanswered"  # questions whose page the student left for without a guess
_RESUME = "_nnviz_tour_resume"  # (page, step) of a tour ended with End tour: the bar offers to resume it
_APPLIED = "_nnviz_lesson_applied"  # the (page, question, step) whose settings this session has applied
# px a projector's headline figure gives up for the panels above it (presentation mode, 1024x768: measured
# by tests/test_browser_lessons.py; the tour's panel stands in for the folded opening paragraph)
BAR_PX = 50  # the row of lesson buttons
HEAD_PX, LINE_PX, CHARS_PER_LINE = 20, 35, 88  # the tour: its header row and each line of its text
VERDICT_PX, ALERT_CHARS_PER_LINE = 130, 78
OFFER_PX = 110  # a step's own control (a slider or a select with its label) under the tour panel  # an answered question's panel, with a one-line verdict

ASK_LIST = "ask_list"  # the key of the "Predict first" expander in the lesson bar (with the open question's id after it)
# The question buttons read as a list: their text left-aligned, one per line, under the expander's label.
_ASK_LIST_CSS = """<style class="nnviz-css">
[data-testid="stElementContainer"]:has(> [data-testid="stHtml"] > style.nnviz-css) { display: none; }
[class*="st-key-ask_list"] [data-testid="stButton"] button { justify-content: flex-start; text-align: left; }
[class*="st-key-ask_list"] [data-testid="stButton"] button [data-testid="stMarkdownContainer"] p { text-align: left; }
</style>"""
# On a projector the list's closed label is as slim as the bar's buttons (the headline figure keeps BAR_PX).
_ASK_LIST_PRESENT_CSS = """<style class="nnviz-css">
[class*="st-key-ask_list"] summary { min-height: 0; }
</style>"""
# Focus follows the question (WCAG 2.4.3): when a question opens, its guess box takes the focus (a text box, or
# the choice already picked, else the first); after a commit the verdict does, so a keyboard or screen-reader user
# lands on the answer, not at the top of the page. Fixed scripts: only the question's id (one of nnviz.lessons'
# ids, checked) goes in, so a new question's script differs from the last one's and Streamlit runs it again.
_FOCUS_JS = """<style>[data-testid="stElementContainer"]:has(.nnviz-focus) { display: none; }</style>
<script class="nnviz-focus">
(() => {
  const question = "%s", target = "%s";  // the question's id; "guess" or "verdict"
  const find = () => {
    const panel = document.querySelector(".st-key-question_panel");
    if (!panel) return null;
    if (target === "guess") {
      const form = panel.querySelector("[data-testid='stForm']");
      return form && (form.querySelector("input:checked") || form.querySelector("input, textarea"));
    }
    const alert = panel.querySelector("[data-testid='stAlertContainer']");
    if (alert && !alert.hasAttribute("tabindex")) alert.setAttribute("tabindex", "-1");
    return alert;
  };
  let tries = 0;
  const go = () => {
    const el = find();
    if (el) { if (document.activeElement !== el) el.focus(); return; }
    if (++tries < 60) setTimeout(go, 50);
  };
  go();
})();
</script>"""

# A tour step that replaced the button a keyboard user pressed ("Guided tour", or Next on the last step, now
# disabled) leaves the focus nowhere: once the run is over, Next takes it (Back on the last step), so Enter
# steps on. A focus a click or a question's guess box holds is left alone. Fixed: only the step number goes in.
_TOUR_FOCUS_JS = """<style>[data-testid="stElementContainer"]:has(.nnviz-focus) { display: none; }</style>
<script class="nnviz-focus">
(() => {
  const step = %d;  // a new step, a new script: Streamlit runs it again
  let tries = 0, idles = 0;
  const go = () => {
    const idle = document.querySelector("[data-testid='stApp'][data-test-script-state='notRunning']");
    idles = idle ? idles + 1 : 0;
    if (idles < 3) { if (++tries < 200) setTimeout(go, 50); return; }  // the run's stale elements are gone
    if (document.activeElement && document.activeElement !== document.body) return;
    const next = document.querySelector(".st-key-tour_next button");
    const el = next && !next.disabled ? next : document.querySelector(".st-key-tour_prev button");
    if (el && !el.disabled) el.focus();
  };
  setTimeout(go, 50);
})();
</script>"""


def _specs(page: str) -> dict[str, Any]:
    """Every control of the page a reset returns to its default: its core specs (nnviz.lessons) and the
    page-local ones it has bound (slow motion); never the frame's (device, presentation mode)."""
    specs = {**CONTROLS.get(page, {}), **Ls.PAGE_SPECS[page]}
    return {k: v for k, v in specs.items() if k not in FRAME_KEYS}


def _widget_value(spec: Any, value: Any) -> Any:
    """A parsed value in the form its widget holds in st.session_state."""
    if isinstance(spec, NumberListSpec):
        return spec.url(value)[0]  # the text box's text
    if isinstance(spec, MultiChoiceSpec):
        return list(value)
    return value


def _apply(page: str, settings: Ls.Settings, full: bool) -> None:
    """Set the page's widgets to `settings` (URL values). full: every other control back to its default
    (a button: the page becomes exactly what the step or question names); else only controls the link
    leaves out (a link that names a step and some settings keeps its settings)."""
    specs = _specs(page)
    st.session_state[SET_BY_LESSON] = set(specs) if full else set()
    for key, spec in specs.items():
        if not full and (key not in settings or key in st.query_params):
            continue  # a link: only what it leaves out
        value = spec.parse(Ls.raw_values(settings[key])) if key in settings else spec.default
        st.session_state[key] = _widget_value(spec, value)
        if full:
            seed_from(key, None)  # a widget first drawn later must not seed itself from the opening link


def _leave_question() -> None:
    """A button leaves the page's open question unanswered: once its figure has been on screen, a guess
    committed later is not a prediction, and the verdict will say so."""
    pending = st.session_state.pop(_PENDING, None)
    if pending is not None and pending not in _guesses():
        st.session_state.setdefault(_SEEN, set()).add(pending)


def _close(page: str) -> None:
    """"Close the question": the page as it is, without it."""
    _leave_question()
    if Q in st.query_params:
        del st.query_params[Q]
    st.session_state[_APPLIED] = (page, None, None)


def _settings(page: str, question: str | None, step: int | None) -> Ls.Settings:
    """What a tour step (or, with none, a question; with neither, nothing: the defaults) sets."""
    if step is not None:
        return Ls.step_settings(page, Ls.TOURS[page][step - 1])
    return Ls.QUESTIONS[question].settings if question is not None else {}


def _go(page: str, question: str | None, step: int | None, settings: Ls.Settings | None = None) -> None:
    """A button's callback: open the question or the tour step (neither: reset to the defaults) at its own
    settings, or at `settings` (a class's teacher's: the open question's figure was never sent, so it is not
    marked as seen)."""
    if settings is None:
        _leave_question()
    else:
        st.session_state.pop(_PENDING, None)
    _apply(page, _settings(page, question, step) if settings is None else settings, full=True)
    for key, value in ((Q, question if step is None else None), (TOUR, step)):
        if value is None:
            if key in st.query_params:
                del st.query_params[key]
        else:
            st.query_params[key] = str(value)
    st.session_state[_APPLIED] = (page, question if step is None else None, step)


def _current(page: str) -> dict[str, list[str]]:
    """The page's settings as its widgets hold them now, as URL values (controls at their default left out)."""
    params = {}
    for key, spec in Ls.PAGE_SPECS[page].items():
        if key not in st.session_state:
            continue
        value = st.session_state[key]
        try:
            params[key] = spec.parse([value]) if isinstance(spec, NumberListSpec) else value
        except BadValue:
            pass  # the page already said so and uses the default
    return Ls.to_settings(page, Ls.page_params(page, {}) | params)


def _link(page: str, extra: dict[str, str]) -> str:
    """A link that opens this page as it is now (its settings, and the question or tour step)."""
    base = st.context.url or f"/{page}"
    query = [(k, v) for k, vs in _current(page).items() for v in vs] + list(extra.items())
    return f"{base}?{urlencode(query)}" if query else base


@dataclass
class Lesson:
    page: str
    question: str | None  # the open question's id (a tour step's, or ?q=)
    step: int | None  # the tour step, 1-based
    slot: Any  # the container above the figure the panel is drawn in
    offered: Any = None  # under the tour panel: where the step's own controls are drawn (Step.offer)
    panel: Any = None  # the tour panel's place, above `offered`

    def spot(self, key: str, default: Any) -> Any:
        """Where the page draws the control `key`: in the tour panel when the step asks the student to move
        it (on a projector the folded settings would push the figure off the screen), else `default`."""
        if self.step is not None and key in Ls.TOURS[self.page][self.step - 1].offer:
            if self.offered is None:
                with self.slot:
                    self.panel = st.container()  # the tour panel goes first; gate() draws it here
                    self.offered = st.container(border=True, key="tour_offer")
            return self.offered
        return default

    def gate(self) -> None:
        """Draw the tour step and the question; with a question open and no guess committed, stop the
        page here: what follows (the figure, its tables, the numbers) would answer it."""
        st.session_state[SET_BY_LESSON] = set()  # every widget a button set has been drawn by now
        classmode.publish(self.page, self.step, self.question, _current(self.page))  # a class's teacher only
        with self.slot:
            if self.step is not None:
                with self.panel or st.container():
                    _tour_panel(self)
                if self.offered is not None:
                    reserve(OFFER_PX)
            else:
                _bar(self)
            if self.question is not None and not _ask(self):
                st.stop()


def begin(page: str) -> Lesson:
    """Read the link's question or tour step, apply its settings once (before the widgets exist), and
    reserve the panel's place under the title."""
    view = classmode.take_view(page)
    if view is not None:  # a follower takes the class teacher's step, question and settings, as a button would
        _go(page, view.question, view.step, view.settings)
    question, step = _read_link(page)
    if step is not None:
        question = Ls.TOURS[page][step - 1].question
    key = (page, question if step is None else None, step)
    if (question is not None or step is not None) and st.session_state.get(_APPLIED) != key:
        _apply(page, _settings(page, question, step), full=False)
    st.session_state[_APPLIED] = key
    return Lesson(page, question, step, st.container())


def _read_link(page: str) -> tuple[str | None, int | None]:
    """The link's ?q= and ?tour=, checked; a value that names nothing on this page gets a notice and
    leaves the URL."""
    steps, ids = Ls.TOURS.get(page, ()), [q.id for q in Ls.for_page(page)]
    question = step = None
    if Q in st.query_params:
        raw = st.query_params.get_all(Q)
        if len(raw) == 1 and raw[0] in ids:
            question = raw[0]
        else:
            del st.query_params[Q]
            notice(f"The link's {_shown(Q, raw)} is not a question on this page "
                   f"(it has {len(ids)}: {', '.join(ids)}); showing the page without one.")
    if TOUR in st.query_params:
        raw = st.query_params.get_all(TOUR)
        if len(raw) == 1 and re.fullmatch(r"[0-9]{1,3}", raw[0]) and 1 <= int(raw[0]) <= len(steps):
            step = int(raw[0])
        else:
            del st.query_params[TOUR]
            notice(f"The link's {_shown(TOUR, raw)} is not a step of this page's tour "
                   f"(expected a whole number from 1 to {len(steps)}); showing the page without the tour.")
    return question, step


def _link_popover(lesson: Lesson, label: str, help: str | None = None) -> None:
    extra = {TOUR: str(lesson.step)} if lesson.step else {Q: lesson.question} if lesson.question else {}
    with st.popover(label, icon=":material/link:", help=help):
        st.code(_link(lesson.page, extra), language=None, wrap_lines=True)


def _reset_button(lesson: Lesson, label: str = "Reset") -> None:
    st.button(label, icon=":material/restart_alt:", key="lesson_reset", on_click=_go, args=(lesson.page, None, None),
              help="Reset to defaults: every setting of this page back to its default.")


def _bar(lesson: Lesson) -> None:
    """No tour running: start the tour, pick a question, copy a link, reset."""
    steps, questions = Ls.TOURS.get(lesson.page, ()), Ls.for_page(lesson.page)
    with st.container(horizontal=True, key="lesson_bar"):
        resume = st.session_state.get(_RESUME)
        if steps and resume is not None and resume[0] == lesson.page:
            st.button(f"Resume the tour (step {resume[1]})", icon=":material/school:", key="tour_resume",
                      on_click=_go, args=(lesson.page, None, resume[1]))
        elif steps:
            st.button(f"Guided tour ({len(steps)} steps)", icon=":material/school:", key="tour_start",
                      on_click=_go, args=(lesson.page, None, 1))
        if questions:
            _question_list(lesson, questions)
        _link_popover(lesson, "Link to this view")
        _reset_button(lesson, "Reset to defaults")
    reserve(BAR_PX)


def _question_list(lesson: Lesson, questions: list[Ls.Question]) -> None:
    """"Predict first": the page's questions in an expander in the lesson bar, in reading order (a popover put
    them at the end of the page, 42-80 Tab stops away). A new question gets a fresh, closed list (the expander's
    key names it): the question's panel, not the list, is what follows the bar."""
    key = f"{ASK_LIST}_{lesson.question}" if lesson.question else ASK_LIST
    with st.expander(f"Predict first ({len(questions)} questions)", icon=":material/quiz:", key=key):
        st.html(_ASK_LIST_CSS + (_ASK_LIST_PRESENT_CSS if presenting() else ""))
        for q in questions:
            st.button(q.prompt, key=f"ask_{q.id}", on_click=_go, args=(lesson.page, q.id, None), type="tertiary",
                      icon=":material/help:" if q.id not in _guesses() else ":material/check_circle:")


def _end_tour(page: str, step: int) -> None:
    """"End tour": leave the tour and keep the page as it is; the lesson bar offers to resume at this step,
    so a click that lands here by mistake throws nothing away."""
    _leave_question()
    if TOUR in st.query_params:
        del st.query_params[TOUR]
    st.session_state[_RESUME] = (page, step)
    st.session_state[_APPLIED] = (page, None, None)


def _tour_panel(lesson: Lesson) -> None:
    steps = Ls.TOURS[lesson.page]
    step = steps[lesson.step - 1]
    st.session_state.pop(_RESUME, None)
    # on a projector, a step whose question is answered gives its text's room to the verdict and the figure
    said = presenting() and step.question is not None and step.question in _guesses()
    with st.container(border=True, key="tour_panel"):
        # Back and Next come first, so they sit at the same place on every step whatever the title's length: a
        # second click where Next was is Next again. The rest (link, redo, end) is in one menu after the title, so
        # the row never wraps on a 1024 px projector, and nothing in it throws the tour away (Redo puts this
        # step's settings back; End keeps the page and the bar offers to resume).
        with st.container(horizontal=True, vertical_alignment="center"):
            led = classmode.following()  # the teacher moves this page: Unfollow to move on your own
            st.button("Back", icon=":material/arrow_back:", key="tour_prev", on_click=_go,
                      help="The teacher leads the steps: Unfollow to move on your own" if led else "Previous step",
                      args=(lesson.page, None, lesson.step - 1), disabled=lesson.step == 1 or led)
            st.button("Next", icon=":material/arrow_forward:", key="tour_next", type="primary", on_click=_go,
                      help="The teacher leads the steps: Unfollow to move on your own" if led else None,
                      args=(lesson.page, None, lesson.step + 1), disabled=lesson.step == len(steps) or led)
            st.markdown(f"**{lesson.step}/{len(steps)} · {step.title}**")
            with st.popover("More", icon=":material/more_horiz:", help="Link to this step, redo it, end the tour"):
                st.caption("Link to this step")
                st.code(_link(lesson.page, {TOUR: str(lesson.step)}), language=None, wrap_lines=True)
                st.button("Redo step", icon=":material/restart_alt:", key="tour_redo", on_click=_go,
                          args=(lesson.page, None, lesson.step), help="Put every setting back to this step's")
                st.button("End tour", icon=":material/close:", key="tour_end", on_click=_end_tour,
                          args=(lesson.page, lesson.step), help="Leave the tour; the page keeps its settings")
        if said:  # folded, one line: the teacher can still open it
            with st.expander("Step text", icon=":material/notes:"):
                st.container(key="tour_text").markdown(step.text)
        else:
            st.container(key="tour_text").markdown(step.text)
    st.html(_TOUR_FOCUS_JS % lesson.step, unsafe_allow_javascript=True)
    lines = 1 if said else math.ceil(len(step.text) / CHARS_PER_LINE)
    reserve(HEAD_PX + LINE_PX * lines)


def _guesses() -> dict[str, Any]:
    return st.session_state.setdefault(_GUESSES, {})


def _focus(box: Any, qid: str, target: str) -> None:
    """Move the focus to the question's guess box or verdict (_FOCUS_JS) once they are drawn."""
    if not re.fullmatch(r"[a-z0-9-]+", qid):  # ids are nnviz.lessons' own: nothing else reaches the script
        return
    box.html(_FOCUS_JS % (qid, target), unsafe_allow_javascript=True)


def _commit(question: Ls.Question) -> None:
    """The form's callback: read the guess; one that cannot be read is not committed."""
    errors = st.session_state.setdefault(_ERROR, {})
    raw = st.session_state.get(f"guess_{question.id}")
    try:
        if raw is None or str(raw).strip() == "":
            raise ValueError("pick one of the choices" if question.kind == "choice" else "type your guess first")
        guess = question.read_guess(raw)
        taken, refused = classmode.commit(question, guess)  # the class's question: to the class's count only
        if refused:
            raise ValueError(refused)
        if not taken:  # a class's guess stays out of this session's own: its verdict waits for the reveal
            _guesses()[question.id] = guess
        errors.pop(question.id, None)
    except ValueError as e:
        errors[question.id] = str(e)


def _forget_guess(qid: str) -> None:
    """"Ask me again": the answer has been on screen, so the next guess is not a prediction either."""
    _guesses().pop(qid, None)
    st.session_state.setdefault(_SEEN, set()).add(qid)


def _ask(lesson: Lesson) -> bool:
    """The question: a guess form until one is committed (False: keep the page hidden), then the
    verdict computed at the settings on screen (True)."""
    q = Ls.QUESTIONS[lesson.question]
    cls = classmode.asked(lesson.page, q.id)  # the class's question now (its teacher or a student in the class)
    guess = cls.guess if cls is not None else _guesses().get(q.id)
    box = st.container(border=True, key="question_panel")
    if cls is not None and cls.teacher:  # the projector: the class's answers, then Reveal
        box.markdown(f"**Class question.** {q.prompt}")
        return classmode.teacher_question(box, q, _current(lesson.page), cls.revealed)
    if not (presenting() and guess is not None):  # on a projector the answered prompt moves into "Why"
        box.markdown(f"**Predict first.** {q.prompt}")
    if guess is None and cls is not None and cls.revealed:  # the reveal came before this student's guess
        return _shown_answer(box, q, _current(lesson.page))
    if guess is not None and cls is not None and not cls.revealed:
        classmode.waiting(box, q, guess)
        return False
    if guess is None:
        with box.form(key=f"form_{q.id}", border=False, enter_to_submit=True):
            if q.kind == "choice":
                st.radio("Your prediction", q.choices, index=None, key=f"guess_{q.id}", horizontal=True)
            else:
                hint = "a power of ten, such as 1e-3 or 10^-3" if q.kind == "log10" else "a number"
                st.text_input(f"Your prediction ({hint}{', in ' + q.unit if q.unit else ''})", key=f"guess_{q.id}",
                              max_chars=Ls.GUESS_CHARS)
            st.form_submit_button("Commit my guess", type="primary", icon=":material/lock:", on_click=_commit,
                                  args=(q,))
        error = st.session_state.get(_ERROR, {}).get(q.id)
        if error:
            box.error(f"Not committed: {error}.")
        box.caption("The figure and the numbers that answer this appear once you commit a guess.")
        st.session_state[_PENDING] = q.id
        if lesson.step is None:
            box.button("Close the question", icon=":material/close:", key="question_close", type="tertiary",
                       on_click=_close, args=(lesson.page,))
        _focus(box, q.id, "guess")
        return False
    settings = _current(lesson.page)
    try:
        verdict = q.judge(guess, settings)
    except ValueError as e:
        box.info(f"At the settings on screen this question has no answer ({e}).")
        _focus(box, q.id, "verdict")
        return True
    show = box.success if verdict.close else box.info
    icon = ":material/check:" if verdict.close else ":material/close:"
    row = None
    if presenting():  # the verdict on the projector; the explanation in a popover for the teacher to open
        show(verdict.head, icon=icon)
        reserve(VERDICT_PX + LINE_PX * (math.ceil(len(verdict.head) / ALERT_CHARS_PER_LINE) - 1))
        row = box.container(horizontal=True)
        with row.popover("Why", icon=":material/lightbulb:"):
            st.markdown(f"**{q.prompt}** {verdict.text.removeprefix(verdict.head).strip()}")
    else:
        show(verdict.text, icon=icon)
    row = row or box.container(horizontal=True)
    if q.id in st.session_state.get(_SEEN, ()):
        row.caption("You had this page's figure on screen before you committed this guess.")
    if settings != Ls.to_settings(lesson.page, q.params()):
        row.caption("The answer is computed at the settings on screen, which differ from the question's.")
        row.button("Back to the question's settings", key="question_settings", on_click=_go,
                   args=(lesson.page, q.id, lesson.step) if lesson.step is None else (lesson.page, None, lesson.step))
    if cls is None:  # a class's guess stays as committed
        row.button("Ask me again", icon=":material/replay:", key="question_again", on_click=_forget_guess,
                   args=(q.id,))
    if lesson.step is None:
        row.button("Close the question", icon=":material/close:", key="question_close", type="tertiary",
                   on_click=_close, args=(lesson.page,))
    _focus(box, q.id, "verdict")
    fig = answer_figure(q.id, q.answer(settings))  # the chart that shows the answer, its value written on it
    if fig is not None:
        show_figure(fig, key="answer_chart", headline=True)
    return True


def _shown_answer(box: Any, q: Ls.Question, settings: Ls.Settings) -> bool:
    """The answer without a verdict: the teacher revealed it before this student committed a guess."""
    try:
        answer = q.answer(settings)
    except ValueError as e:
        box.info(f"At the settings on screen this question has no answer ({e}).")
        return True
    box.info(f"The teacher revealed the answer before you committed a guess: {answer.shown}. {answer.text}",
             icon=":material/visibility:")
    fig = answer_figure(q.id, answer)
    if fig is not None:
        show_figure(fig, key="answer_chart", headline=True)
    return True
