"""YAML documents together with their node trees, so that errors can name the line of a key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sigma.exceptions import SigmaRuleLocation


@dataclass
class Document:
    path: Path
    data: Any
    node: yaml.Node | None
    line: int  # 1-based line where the document starts

    def locate(self, keys: Sequence[str | int], *, key: bool = False) -> SigmaRuleLocation:
        """The location of the value at ``keys`` (the deepest part of the path that exists), or with
        ``key`` of the last key itself (where an unknown key is named)."""
        node = self.node
        mark = node.start_mark if node is not None else None
        for name in keys:
            child = _child(node, name)
            if child is None:
                break
            if key and isinstance(node, yaml.MappingNode):
                mark = next(k.start_mark for k, v in node.value if v is child)
            else:
                mark = child.start_mark
            node = child
        if mark is None:
            return SigmaRuleLocation(self.path, self.line)
        return SigmaRuleLocation(self.path, mark.line + 1, mark.column + 1)


def _child(node: yaml.Node | None, key: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(key):
                return value_node
    elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return node.value[key]
    return None


def read_documents(path: Path, loader_class: type) -> list[Document]:
    """Every YAML document of a file, constructed with ``loader_class`` and kept with its nodes."""
    text = path.read_text(encoding="utf-8")
    loader = loader_class(text)
    documents: list[Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            data = loader.construct_document(node) if node is not None else None
            line = node.start_mark.line + 1 if node is not None else 1
            documents.append(Document(path, data, node, line))
    finally:
        loader.dispose()
    return documents
