"""Article Markdown is rendered to HTML that is safe to show anyone: hostile input never yields a script, an
event handler, an image or a dangerous link, neither from `render` nor on the desk and public article pages."""
import re

import pytest
from bs4 import BeautifulSoup
from django.utils.safestring import SafeString

from knowledge.markdown import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, URL_SCHEMES, render
from knowledge.models import Visibility
from knowledge.services import ArticleInput, article_save

pytestmark = pytest.mark.django_db

REL = "noopener noreferrer nofollow"
# The sanitiser adds rel to every link itself.
ADDED_ATTRIBUTES = {"a": {"rel"}}
# How a browser reads a URL's scheme: C0 controls and spaces around it ignored, tabs and newlines removed.
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")

HOSTILE = {
    "script-tag": "<script>alert(1)</script>",
    "script-tag-upper-case-with-src": "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "script-in-bold": "**<script>alert(1)</script>**",
    "img-onerror": '<img src=x onerror="alert(1)">',
    "svg-onload": "<svg onload=alert(1)>",
    "details-ontoggle": "<details open ontoggle=alert(1)>",
    "body-onload": "<body onload=alert(1)>",
    "input-onfocus": "<input autofocus onfocus=alert(1)>",
    "markdown-link-javascript": "[click](javascript:alert(1))",
    "markdown-link-mixed-case": "[click](JaVaScRiPt:alert(1))",
    "markdown-link-decimal-entity": "[click](&#106;avascript:alert(1))",
    "markdown-link-hex-entity": "[click](&#x6A;avascript:alert(1))",
    "markdown-link-colon-entity": "[click](javascript&colon;alert(1))",
    "markdown-link-tab-entity": "[click](java&#x09;script:alert(1))",
    "markdown-link-angle-brackets": "[click](<javascript:alert(1)>)",
    "markdown-reference-link": "[click][r]\n\n[r]: javascript:alert(1)",
    "markdown-autolink-javascript": "<javascript:alert(1)>",
    "markdown-link-data": "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "markdown-link-data-upper-case": "[click](DATA:text/html,<script>alert(1)</script>)",
    "markdown-link-vbscript": "[click](vbscript:msgbox(1))",
    "markdown-link-text-with-html": "[<img src=x onerror=alert(1)>](https://example.com)",
    "markdown-link-title-breakout": '[x](https://example.com "t\\" onmouseover=\\"alert(1)")',
    "html-link-javascript": '<a href="javascript:alert(1)">click</a>',
    "html-link-entity-encoded": '<a href="&#106;avascript:alert(1)">click</a>',
    "html-link-onclick": '<a onclick="alert(1)" href="https://example.com">click</a>',
    "iframe": '<iframe src="https://evil.example/"></iframe>',
    "object": '<object data="javascript:alert(1)"></object>',
    "form-action": '<form action="javascript:alert(1)"><button>go</button></form>',
    "style-tag": "<style>body { display: none }</style>",
    "style-attribute": '<p style="background:url(javascript:alert(1))">x</p>',
    "base-tag": '<base href="https://evil.example/">',
    "meta-refresh": '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "image": "![x](http://evil/p.png)",
    "image-javascript": "![x](javascript:alert(1))",
    "image-reference": "![x][p]\n\n[p]: http://evil/p.png",
    "html-comment-then-script": "<!-- x --><script>alert(1)</script>",
    "mutation-xss": "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "html-in-table-cell": "| a |\n|---|\n| <img src=x onerror=alert(1)> |",
    "html-in-blockquote": "> <script>alert(1)</script>",
    "html-in-list": "- <svg onload=alert(1)>\n- [x](javascript:alert(1))",
}


def href_scheme(href: str) -> str:
    """The scheme a browser would use for `href` ('' for a relative URL)."""
    cleaned = href.strip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14"
                         "\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ")
    cleaned = re.sub(r"[\t\n\r]", "", cleaned)
    match = _SCHEME.match(cleaned)
    return match.group(1).lower() if match else ""


def assert_safe(html: str) -> None:
    """Only allowed tags and attributes, no event handlers, links only to http(s) and mailto."""
    lowered = html.lower()
    for opening in ("<script", "<img", "<iframe", "<svg", "<style", "<object", "<form", "<base", "<meta"):
        assert opening not in lowered, html
    for tag in BeautifulSoup(html, "html.parser").find_all(True):
        assert tag.name in ALLOWED_TAGS, html
        allowed = ALLOWED_ATTRIBUTES.get(tag.name, set()) | ADDED_ATTRIBUTES.get(tag.name, set())
        for name in tag.attrs:
            assert not re.fullmatch(r"on\w+", name), html
            assert name in allowed, html
        if tag.has_attr("href"):
            scheme = href_scheme(tag["href"])
            assert scheme not in {"javascript", "vbscript", "data"}, html
            assert scheme in URL_SCHEMES or scheme == "", html


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_markdown_renders_to_harmless_html(text):
    assert_safe(render(text))


@pytest.mark.parametrize("href,scheme", [
    ("https://example.com", "https"),
    (" JaVaScRiPt:alert(1)", "javascript"),
    ("java\tscript:alert(1)", "javascript"),
    ("\x01data:text/html,x", "data"),
    ("/desk/kb/", ""),
    ("java%09script:alert(1)", ""),  # percent-encoded: a relative path, not a scheme
])
def test_the_scheme_check_reads_urls_as_a_browser_does(href, scheme):
    assert href_scheme(href) == scheme


def test_image_syntax_gives_no_image_only_a_link():
    soup = BeautifulSoup(render("![diagram](https://example.com/p.png)"), "html.parser")
    assert soup.find("img") is None
    assert soup.find("a")["href"] == "https://example.com/p.png"


def test_a_title_cannot_break_out_of_its_attribute():
    link = BeautifulSoup(render(HOSTILE["markdown-link-title-breakout"]), "html.parser").find("a")
    assert set(link.attrs) == {"href", "title", "rel"}
    assert link["title"] == 't" onmouseover="alert(1)'


# --- what Markdown is for ------------------------------------------------------------------------------------


def tags_of(html: str) -> list[str]:
    return [tag.name for tag in BeautifulSoup(html, "html.parser").find_all(True)]


def test_render_returns_safe_html_and_nothing_for_nothing():
    assert isinstance(render("**x**"), SafeString)
    assert render("") == "" and render(None) == ""


@pytest.mark.parametrize("text,expected", [
    ("# Printer jams\n\n## Tray 2", ["h1", "h2"]),
    ("- open tray 2\n- remove the paper", ["ul", "li", "li"]),
    ("1. sign out\n2. sign in", ["ol", "li", "li"]),
    ("**bold** and *emphasis*", ["p", "strong", "em"]),
    ("Run `gpupdate /force`", ["p", "code"]),
    ("```\nnetsh interface ipv4 show subinterfaces\n```", ["pre", "code"]),
    ("> Quoted from the vendor", ["blockquote", "p"]),
    ("one\n\n---\n\ntwo", ["p", "hr", "p"]),
    ("| Setting | Value |\n|---|---|\n| MTU | 1400 |",
     ["table", "thead", "tr", "th", "th", "tbody", "tr", "td", "td"]),
])
def test_markdown_renders_as_the_expected_tags(text, expected):
    html = render(text)
    assert tags_of(html) == expected
    assert_safe(html)


def test_code_blocks_show_html_as_text():
    soup = BeautifulSoup(render("```\n<script>alert(1)</script>\n```"), "html.parser")
    assert soup.find("script") is None
    assert soup.pre.code.get_text() == "<script>alert(1)</script>\n"


def test_an_ordered_list_keeps_its_start():
    assert BeautifulSoup(render("3. third\n4. fourth"), "html.parser").ol["start"] == "3"


@pytest.mark.parametrize("text,href", [
    ("[the reset page](https://passwordreset.example.com/start?x=1&y=2)",
     "https://passwordreset.example.com/start?x=1&y=2"),
    ("<https://example.com/kb>", "https://example.com/kb"),
    ("[write to us](mailto:help@example.com)", "mailto:help@example.com"),
])
def test_links_are_kept_and_opened_without_referrer(text, href):
    link = BeautifulSoup(render(text), "html.parser").find("a")
    assert link["href"] == href
    assert link["rel"] == REL.split()  # bs4 splits rel into its tokens
    assert f'rel="{REL}"' in render(text)


# --- the article pages ---------------------------------------------------------------------------------------

TITLE = "<script>alert(1)</script> VPN fix"
PROBLEM = '<img src=x onerror="alert(2)"> and <svg onload=alert(3)>'
SOLUTION = "[click](javascript:alert(4))\n\n<iframe src=\"https://evil.example/\"></iframe>\n\n**Restart** the client."
TAG = "<b onmouseover=alert(5)>"


@pytest.fixture
def hostile(alice):
    return article_save(user=alice, data=ArticleInput(
        title=TITLE, problem=PROBLEM, solution=SOLUTION, tags=(TAG,), visibility=Visibility.PUBLIC))


def assert_page_escapes_the_article(response):
    assert response.status_code == 200
    page = response.content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; VPN fix" in page
    assert "<img" not in page and "<svg" not in page and "<iframe" not in page
    soup = BeautifulSoup(page, "html.parser")
    assert soup.select_one("article.kb-article h1").get_text() == TITLE
    for tag in soup.find_all(True):
        assert not any(re.fullmatch(r"on\w+", name) for name in tag.attrs), tag
    for link in soup.find_all("a", href=True):
        assert href_scheme(link["href"]) not in {"javascript", "vbscript", "data"}, link
    for part in ("#article-problem", "#article-solution"):
        body = soup.select_one(part)
        for tag in body.find_all(True):
            assert tag.name in ALLOWED_TAGS
    assert soup.select_one("#article-solution strong").get_text() == "Restart"
    return page


def test_the_desk_article_page_shows_a_hostile_article_as_text(client, alice, hostile):
    client.force_login(alice)
    page = assert_page_escapes_the_article(client.get(f"/desk/kb/{hostile.pk}/"))
    assert "&lt;b" in page and "onmouseover=alert(5)&gt;" in page  # the tag, as text


def test_the_public_article_page_shows_a_hostile_article_as_text(client, hostile):
    response = client.get(f"/support/kb/{hostile.pk}/", {"q": '"><script>alert(6)</script>'})
    page = assert_page_escapes_the_article(response)
    assert "<script>alert(6)</script>" not in page
    assert 'value="&quot;&gt;&lt;script&gt;alert(6)&lt;/script&gt;"' in page


def test_hostile_titles_are_escaped_in_the_search_results(client, alice, hostile):
    client.force_login(alice)
    for url in ("/desk/kb/", "/desk/kb/?q=VPN+fix", "/support/kb/?q=VPN+fix"):
        response = client.get(url)
        assert response.status_code == 200
        page = response.content.decode()
        assert "<script>alert(1)</script>" not in page, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt; VPN fix" in page, url


def test_the_desk_article_page_shows_a_multi_word_tag_as_one_badge(client, alice):
    # `parse_tags` keeps "windows 11" as one tag; the page must not show it as two.
    article = article_save(user=alice, data=ArticleInput(
        title="Dock firmware", problem="Monitors stay black.", solution="Update the dock.",
        tags=("windows 11", "dock")))
    client.force_login(alice)
    soup = BeautifulSoup(client.get(f"/desk/kb/{article.pk}/").content.decode(), "html.parser")
    assert [badge.get_text() for badge in soup.select(".badge.tag")] == ["windows 11", "dock"]
