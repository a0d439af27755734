"""careflow ids ↔ FHIR ids.

A FHIR id is 1–64 characters of ``[A-Za-z0-9-.]``; careflow's ids are any text without
control characters (``bk_3f…``, ``pat-00001``). The mapping is reversible: letters,
digits and ``-`` stay; every other character, ``.`` included, becomes ``.`` and two hex
digits per UTF-8 byte (``bk_3f`` ↔ ``bk.5f3f``). An id that would not fit in 64
characters has no FHIR form (it is refused as unknown).
"""

from __future__ import annotations

import re
import string

__all__ = ["from_fhir_id", "reference_id", "to_fhir_id"]

_KEEP = frozenset(string.ascii_letters + string.digits + "-")
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def to_fhir_id(ident: str) -> str:
    """The FHIR id of a careflow id (``ValueError`` when it would exceed 64 characters)."""
    out = "".join(c if c in _KEEP else "".join(f".{b:02x}" for b in c.encode()) for c in ident)
    if not _FHIR_ID.match(out):
        raise ValueError(f"id {ident!r} has no FHIR form")
    return out


def from_fhir_id(fhir_id: str) -> str | None:
    """The careflow id of a FHIR id, or None when it is not one careflow could have made."""
    if not _FHIR_ID.match(fhir_id):
        return None
    raw = bytearray()
    i = 0
    while i < len(fhir_id):
        c = fhir_id[i]
        if c == ".":
            pair = fhir_id[i + 1:i + 3]
            if len(pair) != 2 or not all(h in string.hexdigits for h in pair):
                return None
            raw.append(int(pair, 16))
            i += 3
        else:
            raw.append(ord(c))
            i += 1
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return None


def reference_id(reference: str, resource_type: str) -> str | None:
    """The careflow id in ``Type/id`` (or a bare id, or an absolute URL ending so)."""
    tail = reference.rstrip("/").split("/")
    if len(tail) >= 2 and tail[-2] != resource_type:
        return None
    return from_fhir_id(tail[-1])
