"""The villager's status page (GET /status): receipt code plus the phone's last four digits.

- Masked name, item, window, state, deadline and missing materials; nothing else personal.
- An unknown code and a wrong phone tail get the same answer by the same path: one
  query, one constant-time comparison (against a dummy when there is no case), one page.
- Lookups are limited per client address and failed lookups per receipt code, by
  Flask-Limiter in memory or the configured limiter storage (hub.ratelimit), so a lookup
  writes nothing durable. Behind a reverse proxy, run the hub with werkzeug's ProxyFix so
  the address is the villager's, not the proxy's.
"""

from __future__ import annotations

import hmac
import logging
from datetime import date, datetime
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any, NamedTuple, TypeVar
from weakref import WeakKeyDictionary

from flask import Blueprint, g, make_response, render_template, request
from jinja2 import pass_eval_context
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from jinja2.nodes import EvalContext
from markupsafe import Markup

from shared import states
from shared.i18n import request_translations
from shared.next_steps import ADVERSE, next_steps
from shared.receipt_codes import format_code, normalise
from shared.validation import mask_name

from . import mailbox
from .clock import china_date
from .catalogue_store import current as current_catalogue
from .catalogue_store import in_force_columns
from .db import compiled, database, one_by
from .models import Case, CountyReferral, HubEvent
from .ratelimit import allow_status_lookup, status_miss, status_period_minutes
from flask_babel import gettext as _
from shared.msgid import N_

bp = Blueprint("public_status", __name__)
log = logging.getLogger("daiban.hub.status")

NOT_FOUND = N_("没有查到与该回执码和手机号后四位相符的申请，请核对后重试，或咨询村代办点。")
# Compared against when the code is unknown, so both failures take the same path.
_DUMMY_TAIL = b"\x00\x00\x00\x00"


def phone_tail(phone: str) -> bytes:
    """The last four digits of a stored phone number."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[-4:].encode()


# What the page shows of a case, and the rating offer reads (hub/ratings.py): not the captured
# form, the ID number or the materials brought, which cost more to decode than the query to run.
PAGE_COLUMNS = (
    Case.request_id,
    Case.receipt_code,
    Case.phone,
    Case.applicant_name,
    Case.item_code,
    Case.window,
    Case.state,
    Case.deadline,
    Case.paused_since,
    Case.materials_missing,
    Case.closed_at,
    Case.satisfaction,
    Case.updated_at,
)
# Each column's value as the Case attribute holds it (peewee's own conversion, per field).
_PAGE_CONVERTERS = tuple(field.python_value for field in PAGE_COLUMNS)


class PageCase(NamedTuple):
    """A case as the status page shows it (PAGE_COLUMNS, by name): for showing, never for saving.

    `catalogue_in_force`: the catalogue version in force, as hub.catalogue_store names it, read by
    the same query.
    """

    request_id: str
    receipt_code: str
    phone: str
    applicant_name: str
    item_code: str
    window: str
    state: str
    deadline: date | None
    paused_since: date | None
    materials_missing: list[str] | None
    closed_at: datetime | None
    satisfaction: str | None
    updated_at: datetime
    catalogue_in_force: tuple[Any, Any]


assert PageCase._fields[:-1] == tuple(field.name for field in PAGE_COLUMNS)  # nosec B101 - one list, one order

CaseT = TypeVar("CaseT", Case, PageCase)


def lookup(code_text: str, tail: str) -> Case | None:
    """The case (every column, for saving) when the code and the phone tail match, else None."""
    return matching(one_by(Case.receipt_code, normalise(code_text)[:16]), tail)


def page_lookup(code_text: str, tail: str) -> PageCase | None:
    """The case as the page shows it when the code and the phone tail match, else None."""
    return matching(page_case(normalise(code_text)[:16]), tail)


def matching(case: CaseT | None, tail: str) -> CaseT | None:
    """The case when the phone tail matches, by one path for every failure (unknown code included):
    one constant-time comparison, against a dummy when there is no case."""
    expected = phone_tail(case.phone) if case is not None else _DUMMY_TAIL
    matches = hmac.compare_digest(expected, tail.encode()[:8])
    return case if (matches and case is not None) else None


def page_case(code: str) -> PageCase | None:
    """The case with this receipt code, PAGE_COLUMNS only, by SQL compiled once.

    The row is read by the plain cursor: peewee's model rows (columns resolved against the model
    on every query, an instance built) cost more than the query itself.
    """
    params = [1, 1, Case.receipt_code.db_value(code), 1]  # the catalogue's two columns' LIMITs come first
    sql = compiled(
        ("public_status.page_case",),
        lambda: Case.select(*PAGE_COLUMNS, *in_force_columns()).where(Case.receipt_code == code).limit(1),
        params,
    )
    row = database.execute_sql(sql, params).fetchone()
    if row is None:
        return None
    shown = [convert(value) for convert, value in zip(_PAGE_CONVERTERS, row)]
    shown.append(tuple(row[-2:]))  # the catalogue's, as read (hub.catalogue_store compares them so)
    return PageCase._make(shown)


def public_view(case: PageCase) -> SimpleNamespace:
    """What the villager may see: masked name and the case's progress, nothing more.

    By attribute: the page reads `result.name` and a dozen more, and Jinja tries the attribute
    before the key (for a dict, a failed attribute look-up raised and caught for each of them).
    """
    catalogue = current_catalogue(case.catalogue_in_force)
    item = catalogue.item(case.item_code) or {}
    return SimpleNamespace(
        **{
            "code": format_code(case.receipt_code),
            "name": mask_name(case.applicant_name),
            "item": item.get("name", case.item_code),
            "window": catalogue.window_name(case.window),
            "state": states.label(case.state),
            "closed": states.is_terminal(case.state),
            # Before 受理 (materials incomplete) no clock runs either: say so rather than show a date.
            "paused": case.paused_since is not None or (case.deadline is None and not states.is_terminal(case.state)),
            # 报县级: the township's part is done; no township due date while the county decides.
            "with_county": case.state in states.WITH_COUNTY,
            "county": county_step(case),
            "deadline": case.deadline,
            "missing": catalogue.material_names(case.item_code, case.materials_missing or []),
            "updated": case.updated_at,
            **decision(case, catalogue.window_name(case.window)),
        }
    )


def county_step(case: PageCase) -> dict[str, Any] | None:
    """The county's answer as the villager may see it: the document number and date, nothing personal."""
    if case.state not in (states.COUNTY_APPROVED, states.COUNTY_DENIED):
        return None
    row = CountyReferral.get_or_none(CountyReferral.request_id == case.request_id)
    return {"doc_no": row.doc_no, "doc_date": row.doc_date} if row is not None else None


def decision(case: PageCase, window_name: str) -> dict[str, Any]:
    """For a refusal or denial: the reason as staff wrote it and what the villager can do next."""
    if case.state not in ADVERSE:
        return {"reason": None, "legal_basis": None, "next_steps": []}
    body: dict[str, Any] = {}
    for event in (
        HubEvent.select(HubEvent.body).where(HubEvent.request_id == case.request_id).order_by(HubEvent.cseq.desc())
    ):
        if event.body.get("reason"):
            body = event.body
            break
    decided = china_date(case.closed_at) if case.closed_at else None
    return {
        "reason": body.get("reason"),
        "legal_basis": body.get("legal_basis"),
        "next_steps": next_steps(case.state, decided, window_name),
    }


# Each catalogue's phrases as the page says them (escaped), by msgid: the page's phrases are a few
# dozen literals, and Flask-Babel keeps one catalogue per language for the app's life.
_SHOWN: WeakKeyDictionary[Any, Phrases] = WeakKeyDictionary()
_MAX_PHRASES = 256
# The templates whose `_('literal')` is read from the request's `Phrases` (PagePhrases); the page
# passes them as PHRASES_NAME.
PHRASED_TEMPLATES = frozenset({"public/status.html"})
PHRASES_NAME = "_phrases"


class Phrases(dict[str, Markup]):
    """A catalogue's phrases without values as the page shows them, by msgid, each said once.

    As Jinja's newstyle gettext says them: escaped, and formatted even without values (a
    catalogue's "%%" says "%"). Kept per catalogue (bounded), so every lookup in a language
    after the first reads each phrase from a dict.
    """

    def __init__(self, say: Callable[[str], str]):
        super().__init__()
        self.say = say

    def __missing__(self, text: str) -> Markup:
        # The catalogue's phrase is ours, as it is to Jinja's gettext.
        said = Markup(self.say(text))  # nosec B704
        if "%" in said:
            said = said % {}
        if len(self) < _MAX_PHRASES:  # literals only, but kept bounded all the same
            self[text] = said
        return said


class PagePhrases(Extension):
    """`_('literal')` in PHRASED_TEMPLATES compiled as `_phrases['literal']`: a dict read, not a call.

    Jinja makes every call in a template through `Context.call` (which asks the callable how it
    wants its context, twice); the status page's eighteen phrases were the largest part of its
    rendering. A phrase with values (`_('…%(x)s', x=…)`) is still the page's `_` call. Message
    extraction (`make messages`) reads the template source with its own environment, so it
    still finds every `_('…')`.
    """

    def filter_stream(self, stream: TokenStream) -> TokenStream | Iterator[Token]:
        if stream.name not in PHRASED_TEMPLATES:
            return stream
        return _phrase_reads(list(stream))


def _phrase_reads(tokens: list[Token]) -> Iterator[Token]:
    i = 0
    while i < len(tokens):
        a = tokens[i]
        if (
            a.type == "name"
            and a.value == "_"
            and (i == 0 or tokens[i - 1].type != "dot")
            and [t.type for t in tokens[i + 1 : i + 4]] == ["lparen", "string", "rparen"]
        ):
            yield Token(a.lineno, "name", PHRASES_NAME)
            yield Token(a.lineno, "lbracket", "[")
            yield tokens[i + 2]
            yield Token(a.lineno, "rbracket", "]")
            i += 4
        else:
            yield a
            i += 1


def page_gettext() -> dict[str, Any]:
    """The template's `_` (and `gettext`) and its phrases (PagePhrases), bound to this request's catalogue once.

    Flask-Babel's `_` finds the request's locale and catalogue again on every call, through three
    nested Jinja calls. This says each phrase as Jinja's newstyle gettext does (escaped,
    `%(name)s` filled), in one call.
    """
    translations = request_translations()
    say = translations.ugettext
    shown = _SHOWN.get(translations)
    if shown is None:
        shown = _SHOWN.setdefault(translations, Phrases(say))

    @pass_eval_context
    def gettext(eval_ctx: EvalContext, text: str, **variables: Any) -> str:
        if not eval_ctx.autoescape:
            return say(text) % variables
        if not variables:
            return shown[text]
        # The catalogue's phrase is ours, as it is to Jinja's gettext: the values filled in are escaped.
        return Markup(say(text)) % variables  # nosec B704

    return {"_": gettext, "gettext": gettext, PHRASES_NAME: shown}


bp.record_once(lambda state: state.app.jinja_env.add_extension(PagePhrases))


@bp.get("/status")
def status() -> Any:
    """The lookup form, and the answer once a code and phone tail are given."""
    code = request.args.get("code", "").strip()[:20]
    tail = request.args.get("tail", "").strip()
    ctx: dict[str, Any] = {"code": code, "result": None, "message": None}
    status_code = 200
    if "tail" in request.args:
        client = request.remote_addr or "unknown"
        if not (len(tail) == 4 and tail.isascii() and tail.isdigit()) or not code:
            ctx["message"] = _("请输入回执码和登记手机号的后四位数字。")
            status_code = 400
        elif not allow_status_lookup(client, code_key := normalise(code)[:16]):
            log.warning("status lookups over the limit from %s", client)
            ctx["message"] = _(
                "查询过于频繁，请 %(status_period_minutes)s 分钟后再试；急需查询请咨询村代办点。",
                status_period_minutes=status_period_minutes(),
            )
            status_code = 429
        else:
            case = page_lookup(code, tail)
            # A 镇长信箱 message has its own code; looked up on every miss too, so misses stay alike.
            letter = mailbox.public_lookup(code, tail) if case is None else None
            if case is None and letter is None:
                status_miss(code_key)
                # Not even the typed code is echoed, so every miss is the same bytes.
                ctx["message"], ctx["code"] = _(NOT_FOUND), ""
            elif case is None:
                ctx["letter"] = letter
            else:
                g.status_case = case  # read once: the page's rating offer uses it too (hub/ratings.py)
                ctx["result"] = public_view(case)
    resp = make_response(render_template("public/status.html", **page_gettext(), **ctx), status_code)
    resp.headers["Cache-Control"] = "no-store"
    if status_code == 429:
        resp.headers["Retry-After"] = str(status_period_minutes() * 60)
    return resp
