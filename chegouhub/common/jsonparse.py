"""Reading JSON that a client sent, with a nesting limit (CONTRACT section 8).

Python's json reads nesting by recursion, so a body of 100,000 `[` raised RecursionError, a 500
on every route that parsed it (and a 4503 on a socket). Every door that reads a client's JSON reads
it here: DRF's parser (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]), the webhook receiver (both server
paths) and the WebSocket consumer. Nesting deeper than MAX_DEPTH is refused as any other JSON that
cannot be read (a ValueError), with the same limit everywhere: whatever a path accepted, the code
behind it (the ledger, orjson's encoder with its own limit of 254, Python's json encoder) can hold.
"""

from __future__ import annotations

import json

from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils.json import strict_constant

# Shopify's payloads nest about 6 levels deep and the API's bodies 3; well below every recursion
# limit of the code that handles what was read.
MAX_DEPTH = 128
TOO_DEEP = f"O JSON do corpo tem mais de {MAX_DEPTH} níveis de aninhamento."


class JSONTooDeep(ValueError):
    def __init__(self):
        super().__init__(TOO_DEEP)


def loads(data: str | bytes, *, parse_constant=None):
    """json.loads, refusing nesting deeper than MAX_DEPTH with JSONTooDeep (a ValueError)."""
    try:
        value = json.loads(data, parse_constant=parse_constant)
    except RecursionError:
        raise JSONTooDeep() from None
    check_depth(value, data)
    return value


def check_depth(value, raw: str | bytes) -> None:
    """Raise JSONTooDeep when `value` (read from `raw`) nests deeper than MAX_DEPTH. For another
    parser's result too (the lean webhook route's orjson, which reads up to 1,024 levels). Only a
    text with more opening brackets than the limit can be that deep: the walk is skipped for
    nearly every body."""
    opening = (b"[", b"{") if isinstance(raw, bytes) else ("[", "{")
    if not isinstance(value, (dict, list)) or raw.count(opening[0]) + raw.count(opening[1]) <= MAX_DEPTH:
        return
    # Iterative: a recursive walk would meet the very limit this guards against.
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth > MAX_DEPTH:
            raise JSONTooDeep()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, reading through `loads`: too deep is a 400 like any unreadable JSON."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            text = stream.read().decode(encoding)
            return loads(text, parse_constant=strict_constant if self.strict else None)
        except JSONTooDeep as exc:
            raise ParseError(str(exc)) from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
