"""A corpus of stored-XSS payloads, each carrying a unique marker (``XSS-01`` … ``XSS-NN``).

Every payload that runs script names its marker: it calls ``alert``/``console.log`` with it or stores it in
``window.__xss``; payloads that only load something put the marker in the URL. A test that finds a marker in a
dialog, a console message, ``window.__xss`` or a request to another host can tell exactly which payload got
through, and where.

`Payload.fires` says in which place the text runs when a page puts it into HTML *without* escaping it; the
browser tests prove each of those claims (a payload that would not run anyway proves nothing), then prove that
the product shows every payload as plain text:

- ``html``: as element content, it runs by itself;
- ``beacon``: as element content, it makes the browser fetch a URL on another host;
- ``click``: as element content, it runs when its link is clicked;
- ``attr`` / ``attr1``: inside a double- / single-quoted attribute value, it breaks out and runs on focus or
  hover of that element;
- ``href``: as the target of a link, it runs when the link is clicked;
- ``textarea`` / ``title``: it closes that element and runs;
- ``script``: inside a string of an inline script, it breaks out and runs;
- ``style``: inside an inline style sheet, it breaks out and runs;
- ``decoded``: it runs as element content once a layer decodes it (HTML entities, %-escapes, ``\\u`` escapes,
  full-width forms) and then forgets to escape it;
- ``markdown``: a link or image whose target runs if a Markdown renderer lets it through;
- ``template``: it shows ``49``, debug output or settings if a template engine evaluates user text;
- ``mutation``: harmless as parsed, it runs after a filter or sanitiser rewrites it (mXSS, nested tags).
"""
import html
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote

MARKER = re.compile(r"XSS-\d{2}")
FIRES = ("html", "beacon", "click", "attr", "attr1", "href", "textarea", "title", "script", "style", "decoded",
         "markdown", "template", "mutation")
# A host no page of ours ever loads from: port 2 of the loopback is closed, so the request fails at once.
BEACON = "http://127.0.0.1:2"


@dataclass(frozen=True)
class Payload:
    """One payload: its marker, its text (which names the marker), and where it runs if left unescaped."""

    marker: str
    text: str
    fires: str

    @property
    def path_safe(self) -> bool:
        """Whether the text survives as a file name: no path separator for the upload checks to cut at."""
        return "/" not in self.text and "\\" not in self.text


# "{m}" stands for the payload's marker.
_TEMPLATES = (
    ("html", "<script>alert('{m}')</script>"),
    ("html", "<ScRiPt>console.log('{m}')</ScRiPt>"),
    ("html", "<script src=\"data:text/javascript,alert('{m}')\"></script>"),
    ("html", "<img src=x onerror=alert('{m}')>"),
    ("html", "<IMG SRC=x OnErRoR=\"window.__xss='{m}'\">"),
    ("html", "<svg onload=alert('{m}')>"),
    ("html", "<svg/onload=console.log('{m}')>"),
    ("html", "<svg><script>alert('{m}')</script></svg>"),
    ("html", "<svg><animate onbegin=alert('{m}') attributeName=x dur=1s>"),
    ("html", "<details open ontoggle=alert('{m}')>"),
    ("html", "<input autofocus onfocus=alert('{m}')>"),
    ("html", "<iframe srcdoc=\"<script>alert('{m}')</script>\"></iframe>"),
    ("html", "<iframe src=\"javascript:alert('{m}')\"></iframe>"),
    ("html", "<audio src=x onerror=alert('{m}')>"),
    ("html", "<style onload=alert('{m}')></style>"),
    ("html", "<noscript><p title=\"</noscript><img src=x onerror=alert('{m}')>\">"),
    ("html", "<img src=x onerror=\\u0061lert('{m}')>"),
    ("html", "<img src=x onerror=alert&#40;'{m}'&#41;>"),
    ("html", "jaVasCript:/*-/*`/*\\`/*'/*\"/**/(/* */oNcliCk=alert('{m}') )//%0D%0A%0d%0a//</stYle/</titLe/"
             "</teXtarEa/</scRipt/--!>\\x3csVg/<sVg/oNloAd=alert('{m}')//>\\x3e"),
    ("beacon", f"<img src=\"{BEACON}/{{m}}.png\">"),
    ("beacon", f"<link rel=stylesheet href=\"{BEACON}/{{m}}.css\">"),
    ("click", "<a href=\"javascript:alert('{m}')\">{m}</a>"),
    ("click", "<a href=\"&#106;avascript:alert('{m}')\">{m}</a>"),
    ("attr", "\" autofocus onfocus=\"alert('{m}')\" x=\""),
    ("attr", "\" onmouseover=\"console.log('{m}')\" x=\""),
    ("attr", "\"><script>alert('{m}')</script>"),
    ("attr1", "' autofocus onfocus='alert(\"{m}\")' x='"),
    ("attr1", "'><img src=x onerror=alert('{m}')>"),
    ("href", "javascript:alert('{m}')"),
    ("href", "JaVaScRiPt:console.log('{m}')"),
    ("href", "java&#x09;script:alert('{m}')"),
    ("href", "javascript:javascript:alert('{m}')"),
    ("textarea", "</textarea><script>alert('{m}')</script>"),
    ("title", "</title><script>alert('{m}')</script>"),
    ("script", "</script><script>alert('{m}')</script>"),
    ("script", "\";alert('{m}');//"),
    ("style", "</style><img src=x onerror=alert('{m}')>"),
    ("decoded", "&lt;script&gt;alert('{m}')&lt;/script&gt;"),
    ("decoded", "%3Cscript%3Ealert('{m}')%3C%2Fscript%3E"),
    ("decoded", "\\u003cimg src=x onerror=alert('{m}')\\u003e"),
    ("decoded", "\uff1cscript\uff1ealert('{m}')\uff1c/script\uff1e"),
    ("markdown", "[{m}](javascript:alert('{m}'))"),
    ("markdown", "[{m}](JaVaScRiPt&#58;alert('{m}'))"),
    ("markdown", "<javascript:alert('{m}')>"),
    ("markdown", "![{m}](x\" onerror=\"alert('{m}'))"),
    ("markdown", "[{m}](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)"),
    ("template", "{{7*7}} {m}"),
    ("template", "{% debug %} {m}"),
    ("template", "${7*7} {m}"),
    ("template", "{{constructor.constructor(\"alert('{m}')\")()}}"),
    ("template", "{{settings.SECRET_KEY}} #{7*7} <%= 7*7 %> {m}"),
    ("mutation", "<math><mtext><table><mglyph><style><img src=x onerror=alert('{m}')>"),
    ("mutation", "<form><math><mtext></form><form><mglyph><style></math><img src=x onerror=alert('{m}')>"),
    ("mutation", "<scr<script>ipt>alert('{m}')</scr</script>ipt>"),
)

CORPUS: tuple[Payload, ...] = tuple(
    Payload(marker=f"XSS-{n:02d}", text=text.replace("{m}", f"XSS-{n:02d}"), fires=fires)
    for n, (fires, text) in enumerate(_TEMPLATES, start=1)
)
BY_MARKER = {payload.marker: payload for payload in CORPUS}


def markers_in(text: str) -> set[str]:
    """The markers named in `text` (a dialog message, a console line, a URL)."""
    return set(MARKER.findall(text or ""))


def describe(marker: str) -> str:
    payload = BY_MARKER.get(marker)
    return f"{marker} {payload.text!r}" if payload else marker


def normalised(text: str) -> str:
    """Whitespace collapsed, as the product stores one-line fields and as the browser lays out plain text."""
    return " ".join((text or "").split())


def batches(limit: int, *, separator: str = " | ", payloads=CORPUS) -> list[tuple[Payload, ...]]:
    """The payloads packed into as few groups as fit a field of `limit` characters when joined by `separator`
    (first fit, longest first: each group is one more ticket to create and open), each group in marker order."""
    groups: list[list[Payload]] = []
    for payload in sorted(payloads, key=lambda p: (-len(p.text), p.marker)):
        if len(payload.text) > limit:
            raise ValueError(f"{payload.marker} alone is longer than {limit} characters")
        home = next((group for group in groups if len(joined([*group, payload], separator=separator)) <= limit), None)
        if home is None:
            groups.append([payload])
        else:
            home.append(payload)
    return [tuple(sorted(group, key=lambda p: p.marker)) for group in groups]


def joined(payloads, *, separator: str = " | ") -> str:
    return separator.join(payload.text for payload in payloads)


def every_payload(separator: str = "\n") -> str:
    """The whole corpus as one text (a description, a reply, an article), one payload a line."""
    return joined(CORPUS, separator=separator)


def decoded(text: str) -> str:
    """What a careless layer would make of an encoded payload: entities, %-escapes, \\u and \\x escapes and
    full-width forms decoded."""
    text = unquote(html.unescape(text))
    text = re.sub(r"\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1) or m.group(2), 16)), text)
    return unicodedata.normalize("NFKC", text)
