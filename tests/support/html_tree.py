"""A small DOM for tests that read pages: the standard library's HTML parser, tags nested
as the page writes them (void elements closed at once)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    parent: Node | None
    children: list[Node] = field(default_factory=list)
    text: str = ""

    def all_text(self) -> str:
        return self.text + "".join(c.all_text() for c in self.children)

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()


_VOID = {"meta", "link", "input", "br", "img", "hr", "source", "wbr", "area", "base", "col"}


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in _VOID:
            self.current = node

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.text += data


def parse(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def by_class(root: Node, tag: str, cls: str) -> list[Node]:
    return [n for n in root.walk() if n.tag == tag and cls in n.attrs.get("class", "").split()]


def text_of(node: Node) -> str:
    """The node's text with runs of white space as one space (non-breaking ones kept)."""
    return re.sub(r"[ \t\r\n]+", " ", node.all_text()).strip()
