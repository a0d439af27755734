"""YAML read the way a health-system file means it.

PyYAML follows YAML 1.1, where ``17:00`` is the integer 1020 (base 60), ``no`` is
False (and so is the language code of Norwegian) and ``2025-03-01`` becomes a date
object. This loader keeps times, dates and such words as strings (the codec parses
them), accepts only true/false as booleans and refuses duplicate keys, which YAML
would otherwise resolve silently by keeping the last.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import MappingNode

__all__ = ["DuplicateKey", "StrictLoader", "load_yaml"]

BOOL = "tag:yaml.org,2002:bool"
INT = "tag:yaml.org,2002:int"
TIMESTAMP = "tag:yaml.org,2002:timestamp"


class DuplicateKey(yaml.YAMLError):
    """A mapping repeats a key."""

    def __init__(self, key: str, line: int) -> None:
        super().__init__(f"duplicate key {key!r} on line {line}")
        self.key = key
        self.line = line


class StrictLoader(yaml.SafeLoader):
    """SafeLoader without base-60 integers, yes/no booleans, timestamps or duplicate keys."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise DuplicateKey(str(key), key_node.start_mark.line + 1)
            seen.add(key)
        return super().construct_mapping(node, deep)


def _strict_resolvers() -> None:
    dropped = {BOOL, INT, TIMESTAMP}
    StrictLoader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in dropped]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    StrictLoader.add_implicit_resolver(BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                       list("tTfF"))
    StrictLoader.add_implicit_resolver(INT, re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"),
                                       list("-+0123456789"))


_strict_resolvers()


def load_yaml(text: str) -> Any:
    """Parse YAML text with ``StrictLoader``."""
    return yaml.load(text, Loader=StrictLoader)  # a SafeLoader subclass: no arbitrary objects
