"""The kit's pages link each other: every relative link and image in README.md, SECURITY.md, docs/ and
benchmarks/ leads to a file or folder of the kit, and a link to `page.md#part` to a heading of that page (as
GitHub names headings). The README, the front door, links every page of docs/.

Links are read with markdown-it-py, as a Markdown renderer reads them, so a link in a table or an image counts
and a link written inside code does not.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from markdown_it import MarkdownIt

from alfred.course.targets import KIT_ROOT

PAGES = sorted([KIT_ROOT / "README.md", KIT_ROOT / "SECURITY.md", *(KIT_ROOT / "docs").rglob("*.md"),
                *(KIT_ROOT / "benchmarks").rglob("*.md")])
MARKDOWN = MarkdownIt("commonmark").enable("table")


def anchor_of(heading: str) -> str:
    """GitHub's anchor for a heading's text: lower case, punctuation dropped, spaces made hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def headings_and_links(text: str) -> tuple[set[str], list[str]]:
    """The anchors of a page's headings and the target of each of its links and images."""
    anchors, links = set(), []
    tokens = MARKDOWN.parse(text)
    for before, token in zip([None, *tokens], tokens):
        if token.type != "inline":
            continue
        if before is not None and before.type == "heading_open":
            anchors.add(anchor_of("".join(child.content for child in token.children or [])))
        for child in token.children or []:
            if child.type == "link_open":
                links.append(str(child.attrs["href"]))
            elif child.type == "image":
                links.append(str(child.attrs["src"]))
    return anchors, links


def broken_links(page: Path, text: str) -> list[str]:
    """Each relative link of `page` (whose text is `text`) that leads to no file, folder or heading of the kit."""
    broken = []
    own_anchors, links = headings_and_links(text)
    for link in links:
        parts = urlsplit(link)
        if parts.scheme or parts.netloc:
            continue  # a web address: not the kit's to keep
        target = (page.parent / unquote(parts.path)).resolve()
        where = f"{page.relative_to(KIT_ROOT)}: {link}"
        if not target.exists():
            broken.append(f"{where}: there is no {os.path.relpath(target, KIT_ROOT.resolve())}")
        elif parts.fragment and parts.fragment not in (
                headings_and_links(target.read_text())[0] if parts.path else own_anchors):
            broken.append(f"{where}: {target.name if parts.path else 'the page'} has no heading #{parts.fragment}")
    return broken


def test_every_relative_link_of_the_kits_pages_leads_somewhere():
    broken = [problem for page in PAGES for problem in broken_links(page, page.read_text())]
    assert broken == [], "\n".join(broken)


def test_a_link_to_a_missing_page_or_heading_is_caught():
    """The check can fail: a missing page, a missing heading (of another page or its own) and a missing image are
    each named; a web address, a heading of the page itself and a heading written with code are found."""
    readme = KIT_ROOT / "README.md"
    text = ("# Set up: `alfred grade`, then\n\n[a](docs/nowhere.md) [b](docs/grading.md#nowhere) ![c](docs/gone.png)"
            " [d](https://example.org/x.md) [e](#set-up-alfred-grade-then) [f](docs/grading.md#alfred-grade)"
            " [g](#nowhere)\n")
    assert broken_links(readme, text) == ["README.md: docs/nowhere.md: there is no docs/nowhere.md",
                                          "README.md: docs/grading.md#nowhere: grading.md has no heading #nowhere",
                                          "README.md: docs/gone.png: there is no docs/gone.png",
                                          "README.md: #nowhere: the page has no heading #nowhere"]


def test_the_readme_links_every_page_of_docs():
    linked = {(KIT_ROOT / urlsplit(link).path).resolve() for link in headings_and_links(
        (KIT_ROOT / "README.md").read_text())[1]}
    missing = [str(page.relative_to(KIT_ROOT)) for page in sorted((KIT_ROOT / "docs").rglob("*.md"))
               if page.resolve() not in linked]
    assert missing == []
