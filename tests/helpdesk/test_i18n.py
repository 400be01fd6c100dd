"""The Russian translation: a complete, compiled catalogue that the pages and the workflow labels use.

The catalogue is checked without gettext tools (msgfmt may be missing on a
fresh machine): a small parser reads the .po file, and the compiled .mo file is
loaded with the standard library's `gettext.GNUTranslations`.
"""
import ast
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from tickets import services
from tickets.exceptions import TicketError
from tickets.workflow import FIELD_LABELS, Action, EventKind, Status
from tiers.roles import Role

pytestmark = pytest.mark.django_db

RU_DIR = Path(settings.LOCALE_PATHS[0]) / "ru" / "LC_MESSAGES"
RU_PO = RU_DIR / "django.po"
RU_MO = RU_DIR / "django.mo"


@pytest.fixture(autouse=True)
def _restore_language():
    """LocaleMiddleware leaves the request's language active in this thread; later tests expect the default."""
    previous = translation.get_language()
    yield
    translation.activate(previous)


# --- a minimal .po reader -----------------------------------------------------


def _unquote(token: str) -> str:
    """A PO string literal ("...", C escapes) as text; PO escapes are a subset of Python's."""
    value = ast.literal_eval(token)
    assert isinstance(value, str), token
    return value


def parse_po(path: Path) -> list[dict]:
    """Entries of a .po file: msgctxt, msgid, msgid_plural, msgstr {index: text}, flags, obsolete.

    The header (empty msgid) is included as the first entry.
    """
    entries: list[dict] = []
    entry: dict | None = None
    field: tuple | None = None

    def fresh() -> dict:
        return {"msgctxt": None, "msgid": None, "msgid_plural": None, "msgstr": {}, "flags": set(), "obsolete": False}

    def flush():
        nonlocal entry, field
        if entry is not None and entry["msgid"] is not None:
            entries.append(entry)
        entry, field = None, None

    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line:
            flush()
            continue
        if line.startswith("#~"):
            entry = entry or fresh()
            entry["obsolete"] = True
            continue
        if line.startswith("#,"):
            if entry is not None and entry["msgstr"]:
                flush()
            entry = entry or fresh()
            entry["flags"].update(flag.strip() for flag in line[2:].split(",") if flag.strip())
            continue
        if line.startswith("#"):
            if entry is not None and entry["msgstr"]:
                flush()
            continue
        if line.startswith('"'):
            assert field is not None, f"{path}:{lineno}: continuation line outside a field"
            name, index = field
            if name == "msgstr":
                entry["msgstr"][index] += _unquote(line)
            else:
                entry[name] += _unquote(line)
            continue
        keyword, _, rest = line.partition(" ")
        match = re.fullmatch(r"msgstr(?:\[(\d+)\])?", keyword)
        if match:
            assert entry is not None and entry["msgid"] is not None, f"{path}:{lineno}: msgstr without msgid"
            index = int(match.group(1) or 0)
            entry["msgstr"][index] = _unquote(rest)
            field = ("msgstr", index)
        elif keyword in ("msgctxt", "msgid", "msgid_plural"):
            # A new entry may follow the previous one without a blank line.
            if keyword in ("msgctxt", "msgid") and entry is not None and entry["msgstr"]:
                flush()
            entry = entry or fresh()
            entry[keyword] = _unquote(rest)
            field = (keyword, None)
        else:
            raise AssertionError(f"{path}:{lineno}: cannot read {raw!r}")
    flush()
    return entries


@pytest.fixture(scope="module")
def po_entries():
    assert RU_PO.is_file(), f"{RU_PO} is missing: run makemessages -l ru"
    return parse_po(RU_PO)


@pytest.fixture(scope="module")
def messages(po_entries):
    """Every translatable entry (everything but the header)."""
    return [entry for entry in po_entries if entry["msgid"] != "" or entry["msgctxt"] is not None]


@pytest.fixture(scope="module")
def mo():
    assert RU_MO.is_file(), f"{RU_MO} is missing: run compilemessages"
    with RU_MO.open("rb") as handle:
        return gettext.GNUTranslations(handle)


def _label(entry: dict) -> str:
    return repr(entry["msgid"]) + (f" (context {entry['msgctxt']!r})" if entry["msgctxt"] else "")


# --- the catalogue ------------------------------------------------------------


def test_parser_reads_every_entry(messages):
    text = RU_PO.read_text(encoding="utf-8")
    declared = len(re.findall(r"^msgid ", text, flags=re.MULTILINE)) - 1  # minus the header
    assert declared > 100
    assert len(messages) == declared


def test_header_declares_russian_utf8_and_three_plural_forms(po_entries, mo):
    header = po_entries[0]
    assert header["msgid"] == "" and header["msgctxt"] is None
    assert "fuzzy" not in header["flags"]
    info = mo.info()
    assert info["language"] == "ru"
    assert "charset=UTF-8" in info["content-type"]
    assert info["plural-forms"].replace(" ", "").startswith("nplurals=3;")
    # 1 заявка, 2 заявки, 5 заявок, 11 заявок, 21 заявка, 22 заявки.
    assert [mo.plural(n) for n in (1, 2, 5, 11, 21, 22, 111)] == [0, 1, 2, 2, 0, 1, 2]


def test_no_fuzzy_untranslated_or_obsolete_entries(messages):
    fuzzy = [_label(e) for e in messages if "fuzzy" in e["flags"]]
    obsolete = [_label(e) for e in messages if e["obsolete"]]
    untranslated = [_label(e) for e in messages if not e["msgstr"] or not all(e["msgstr"].values())]
    assert not fuzzy, f"fuzzy entries: {fuzzy}"
    assert not obsolete, f"obsolete entries: {obsolete}"
    assert not untranslated, f"untranslated entries: {untranslated}"


def test_plural_entries_have_three_forms(messages):
    for entry in messages:
        if entry["msgid_plural"] is not None:
            assert sorted(entry["msgstr"]) == [0, 1, 2], _label(entry)


def test_compiled_catalogue_matches_the_po_file(messages, mo):
    """Every .po translation is in the .mo file, unchanged: the committed .mo is not stale."""
    stale = []
    for entry in messages:
        msgid, ctxt = entry["msgid"], entry["msgctxt"]
        if entry["msgid_plural"] is None:
            got = mo.pgettext(ctxt, msgid) if ctxt is not None else mo.gettext(msgid)
            if got != entry["msgstr"][0]:
                stale.append((_label(entry), got))
        else:
            for n in (1, 2, 5):
                want = entry["msgstr"][mo.plural(n)]
                got = (
                    mo.npgettext(ctxt, msgid, entry["msgid_plural"], n)
                    if ctxt is not None
                    else mo.ngettext(msgid, entry["msgid_plural"], n)
                )
                if got != want:
                    stale.append((_label(entry), n, got))
    assert not stale, f"django.mo differs from django.po (run compilemessages): {stale}"


_PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|\{\{\s*\w+\s*\}\}|\{\w*\}")


def test_placeholders_are_kept(messages):
    broken = []
    for entry in messages:
        sources = [entry["msgid"]] + ([entry["msgid_plural"]] if entry["msgid_plural"] else [])
        expected = sorted(set(_PLACEHOLDER.findall(" ".join(sources))))
        for text in entry["msgstr"].values():
            if sorted(set(_PLACEHOLDER.findall(text))) != expected:
                broken.append((_label(entry), text))
    assert not broken, f"placeholders changed: {broken}"


def test_russian_text_is_really_russian(messages):
    """A translation of English words contains Cyrillic (guards against copied English).

    Acronyms like API, and formats without words such as "%(value)s%%", are exempt.
    """
    has_words = lambda msgid: re.search(r"[A-Za-z]{2}", re.sub(r"%\(\w+\)s", "", msgid))  # noqa: E731
    latin_only = [
        _label(e)
        for e in messages
        if not re.search(r"[А-Яа-яЁё]", e["msgstr"][0]) and has_words(e["msgid"]) and e["msgid"] not in {"API"}
    ]
    assert not latin_only, f"translations without Cyrillic: {latin_only}"


# --- pages --------------------------------------------------------------------


def test_login_page_in_russian():
    response = Client().get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="ru")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="ru">' in html
    assert response["Content-Language"] == "ru"
    assert "<h1>Войти</h1>" in html
    assert "Имя пользователя" in html and "Пароль" in html
    assert "Sign in" not in html and "Username" not in html


def test_login_page_in_english():
    response = Client().get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="en">' in html
    assert "<h1>Sign in</h1>" in html
    assert "Username" in html and "Password" in html
    assert "Войти" not in html


def test_failed_sign_in_error_in_russian():
    response = Client().post(
        "/accounts/login/", {"username": "nobody", "password": "wrong"}, HTTP_ACCEPT_LANGUAGE="ru"
    )
    assert response.status_code == 200
    assert "Неверное имя пользователя или пароль. Попробуйте ещё раз." in response.content.decode()


def test_home_page_in_russian(alice):
    """Staff land on the desk queue page (/ redirects to /desk/): tabs, summary table and headers in Russian."""
    client = Client()
    client.force_login(alice)
    home = client.get("/", HTTP_ACCEPT_LANGUAGE="ru")
    assert home.status_code == 302 and home["Location"] == "/desk/"
    response = client.get("/desk/", HTTP_ACCEPT_LANGUAGE="ru")
    assert response.status_code == 200
    assert response["Content-Language"] == "ru"
    html = response.content.decode()
    assert '<html lang="ru">' in html
    assert 'title="Вы вошли как">alice</span>' in html
    assert ">Выйти</button>" in html
    assert ">Очереди</a>" in html and ">Принять звонок</a>" in html
    for tab in ("Мои заявки", "Без исполнителя на моей линии", "Открытые", "Скоро нарушение SLA", "Ждут клиента"):
        assert f">{tab}</a>" in html, tab
    assert 'aria-label="Открытые заявки по линиям поддержки"' in html
    for status in ("новая", "диагностика", "решение", "ожидает ответа клиента"):
        assert f'<th scope="col">{status}</th>' in html
    for header in ("Заявка", "Тема", "Заявитель", "Статус", "Исполнитель"):
        assert f'<th scope="col">{header}</th>' in html
    assert "ваша линия" in html
    assert "All open" not in html and "My tickets" not in html


# --- workflow labels and messages ---------------------------------------------


def test_workflow_labels_in_russian():
    with translation.override("ru"):
        assert str(Status.NEW.label) == "новая"
        assert str(Status.DIAGNOSING.label) == "диагностика"
        assert str(Status.RESOLVING.label) == "решение"
        assert str(Status.WAITING.label) == "ожидает ответа клиента"
        assert str(Status.RESOLVED.label) == "решена"
        assert str(Status.CLOSED.label) == "закрыта"
        assert str(Action.TAKE.label) == "взять в работу"
        assert str(Action.ESCALATE.label) == "эскалировать"
        assert str(Action.DE_ESCALATE.label) == "вернуть на предыдущую линию"
        assert str(Action.REOPEN.label) == "открыть повторно"
        assert str(EventKind.ESCALATED.label) == "эскалирована"
        assert str(EventKind.SLA_BREACHED.label) == "нарушение SLA"
        assert str(Role.MANAGER.label) == "руководитель"
        assert str(Role.CUSTOMER.label) == "клиент"
        assert str(FIELD_LABELS["affected_item"]) == "затронутый объект"
    with translation.override("en"):
        assert str(Status.WAITING.label) == "waiting for customer"
        assert str(Action.ESCALATE.label) == "escalate"


@pytest.mark.parametrize("choices", [Status, Action, EventKind, Role], ids=lambda c: c.__name__)
def test_every_choice_label_is_translated(choices):
    with translation.override("en"):
        english = {member: str(member.label) for member in choices}
    with translation.override("ru"):
        untranslated = [member.value for member in choices if str(member.label) == english[member]]
    assert not untranslated


def test_service_refusal_in_russian(ticket, as_alice):
    """A message built from translated pieces: the action and status labels land inside the Russian sentence."""
    with translation.override("ru"), pytest.raises(TicketError) as refused:
        services.ticket_start_resolving(actor=as_alice, ticket_id=ticket.pk)
    assert str(refused.value) == "Действие «перейти к решению» недоступно для заявки в статусе «новая»."
