"""Reading an HTML page in a test: its title, its links, the text of an element, as a browser's reader would.

A lesson whose app answers with pages (Jinja2 templates, static files) checks what the page says, not how its
markup happens to be written: `read_page(seen.response.text)` gives a `Page`, whose `title`, `links` (the
`<a href>` of the page, with their text), `assets` (stylesheets, scripts, images it loads) and
`text("#count")` (the text of the first element a simple selector finds: `tag`, `#id`, `.class`, `tag#id`,
`tag.class`) are what a test compares. Built on the standard library's `html.parser`, which reads broken
markup as browsers do (an unclosed tag, a stray end tag) without raising: a student's page never crashes a test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

# Elements that have no end tag: they hold no text, and never stay open.
VOID_ELEMENTS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
                           "track", "wbr"})
NOT_TEXT = frozenset({"script", "style", "template"})  # what they hold is code, not text a reader sees
# Elements whose start or end a reader sees as a break between words ("<li>A</li><li>B</li>" reads "A B").
BLOCKS = frozenset({"address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "footer", "form",
                    "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "option", "p",
                    "section", "table", "td", "th", "title", "tr", "ul"})
# An element a new one of these kinds ends when it is still open (HTML's implied end tags: `<li>A<li>B`),
# unless one of the containers named here lies between them.
IMPLIED_END = {"li": ("li", {"ul", "ol"}), "dt": ("dd dt", {"dl"}), "dd": ("dd dt", {"dl"}),
               "tr": ("tr td th", {"table"}), "td": ("td th", {"tr", "table"}), "th": ("td th", {"tr", "table"}),
               "option": ("option", {"select"}), "p": ("p", set(BLOCKS) - {"p", "br", "hr"})}
_SELECTOR = re.compile(r"^(?P<tag>[a-zA-Z][a-zA-Z0-9-]*)?(?:#(?P<id>[\w-]+)|\.(?P<cls>[\w-]+))?$")


@dataclass(frozen=True)
class Link:
    href: str
    text: str


@dataclass
class _Element:
    tag: str
    attributes: dict[str, str]
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join("".join(self.parts).split())


@dataclass(frozen=True)
class Page:
    """An HTML page as a test reads it; every text is whitespace-collapsed, as a browser shows it."""

    elements: tuple[_Element, ...]

    @property
    def title(self) -> str | None:
        """The text of `<title>`; None when the page has none."""
        return self.text("title")

    @property
    def links(self) -> list[Link]:
        """Every `<a href>`, in the page's order, with its text."""
        return [Link(element.attributes["href"], element.text) for element in self.elements
                if element.tag == "a" and "href" in element.attributes]

    @property
    def assets(self) -> list[str]:
        """What the page loads, in its order: `<link href>` (stylesheets, icons), `<script src>`, `<img src>`."""
        return [element.attributes[key] for element in self.elements
                for key in ({"link": "href", "script": "src", "img": "src"}.get(element.tag),)
                if key and key in element.attributes]

    def texts(self, selector: str) -> list[str]:
        """The text of every element `selector` finds: `tag`, `#id`, `.class`, `tag#id` or `tag.class`."""
        found = _SELECTOR.match(selector.strip())
        if not found or not any(found.groups()):
            raise ValueError(f"{selector!r} is not a selector read_page knows: tag, #id, .class, tag#id or tag.class")
        tag, identifier, kind = found["tag"], found["id"], found["cls"]
        return [element.text for element in self.elements
                if (tag is None or element.tag == tag.lower())
                and (identifier is None or element.attributes.get("id") == identifier)
                and (kind is None or kind in element.attributes.get("class", "").split())]

    def text(self, selector: str) -> str | None:
        """The text of the first element `selector` finds; None when there is none."""
        return next(iter(self.texts(selector)), None)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[_Element] = []
        self.open: list[_Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        ended, containers = IMPLIED_END.get(tag, ("", set()))
        for position in range(len(self.open) - 1, -1, -1):
            if self.open[position].tag in ended.split():
                del self.open[position:]
                break
            if self.open[position].tag in containers:
                break
        self._break(tag)
        element = _Element(tag, {name: value or "" for name, value in attrs})
        self.elements.append(element)
        if tag not in VOID_ELEMENTS:
            self.open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._break(tag)
        self.elements.append(_Element(tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for position in range(len(self.open) - 1, -1, -1):  # a stray end tag closes nothing
            if self.open[position].tag == tag:
                del self.open[position:]
                self._break(tag)
                return

    def _break(self, tag: str) -> None:
        if tag in BLOCKS:
            self.handle_data(" ")

    def handle_data(self, data: str) -> None:
        inside_code = next((element for element in reversed(self.open) if element.tag in NOT_TEXT), None)
        for element in self.open:  # the text belongs to every element it is inside
            if inside_code is None or element is inside_code or self.open.index(element) > self.open.index(inside_code):
                element.parts.append(data)


def read_page(html: str) -> Page:
    """`html` read as a page (never raises: broken markup is read as browsers read it)."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return Page(tuple(reader.elements))
