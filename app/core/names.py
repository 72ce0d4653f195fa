"""Names from outside (Hub files, repos, GGUF metadata) shown and saved honestly.

A name can carry characters that change how it looks without being seen: bidirectional overrides
(`model\u202efgg.exe` displays as `modelexe.ggf`), zero-width joiners, other format and control characters.
`hidden_characters` finds them (saving refuses such a name); `display_name` escapes them for the screen.
"""

from __future__ import annotations

import unicodedata

# Unicode categories of characters that are invisible or reorder text: control, format (bidi marks and
# overrides, zero-width characters, soft hyphen, BOM), line/paragraph separators, surrogates, private use.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})

MAX_NAME_BYTES = 255  # one path component on ext4, APFS, NTFS (UTF-16 units there) and most others


def is_hidden(char: str) -> bool:
    return unicodedata.category(char) in _HIDDEN_CATEGORIES


def hidden_characters(text: str) -> list[str]:
    """The invisible or reordering characters in `text`, as U+XXXX codes, in order of appearance."""
    return [f"U+{ord(c):04X}" for c in text if is_hidden(c)]


def display_name(text: str) -> str:
    """`text` with every invisible or reordering character shown as a visible escape (`\\u202e`)."""
    if not any(is_hidden(c) for c in text):
        return text
    out = []
    for c in text:
        if not is_hidden(c):
            out.append(c)
        elif ord(c) <= 0xFFFF:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    return "".join(out)
