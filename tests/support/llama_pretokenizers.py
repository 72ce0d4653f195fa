"""What the pinned llama.cpp knows of BPE pre-tokenizers, read from its sources (tests/support/llama_sources.py):
the names its converter gives by vocabulary hash (get_vocab_base_pre), and the split regexes its loader runs
for each name (src/llama-vocab.cpp). Read as text: nothing of llama.cpp is imported or run here."""

from __future__ import annotations

import re
from pathlib import Path

_CONVERTER_FILES = ("conversion/base.py", "convert_hf_to_gguf.py")


def _name_function(sources: Path) -> str:
    for rel in _CONVERTER_FILES:
        path = sources / rel
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        start = text.find("def get_vocab_base_pre")
        if start < 0:
            continue
        return text[start : text.find("\n    def ", start + 1)]
    raise AssertionError(f"no get_vocab_base_pre in {sources} ({', '.join(_CONVERTER_FILES)})")


def converter_names(sources: Path) -> set[str]:
    """Every tokenizer.ggml.pre value llama.cpp's converter can write for a byte-level BPE vocabulary."""
    return set(re.findall(r'\bres = "([^"]+)"', _name_function(sources)))


def name_written_today(sources: Path, name: str) -> str:
    """The name the pinned converter writes for a vocabulary an older one named `name`: its hash tests run in
    order and the last match wins, so a later name for the same hash shadows an earlier one (GPT-NeoX-20B's
    vocabulary was 'mpt', now 'olmo'). Only the hashes' order is read here, never what they hash."""
    pairs = re.findall(r'if chkhsh == "([0-9a-f]+)":(?:\s*#[^\n]*)*\s*res = "([^"]+)"', _name_function(sources))
    assert {n for _, n in pairs} == converter_names(sources), "some names' hash tests were not read"
    last = dict(pairs)
    hashes = {h for h, n in pairs if n == name}
    assert len(hashes) == 1, f"{name!r} stands for {len(hashes)} hashes in the pinned converter"
    return last[hashes.pop()]


def loader_regexes(sources: Path, run_only: bool = False) -> dict[str, tuple[str, ...]]:
    """For each tokenizer.ggml.pre name llama.cpp's loader accepts, the split regexes it pre-tokenizes with,
    led by the tokenizer.json original a comment quotes where llama.cpp runs an adaptation (`run_only`: only
    the regexes it runs)."""
    text = (sources / "src" / "llama-vocab.cpp").read_text(encoding="utf-8")
    types: dict[str, str] = {}
    # each assignment's condition: the text from the last "if (" before it (one regex over the whole file with a
    # lazy condition group backtracks for a minute)
    previous = 0
    for assignment in re.finditer(r"pre_type\s*=\s*LLAMA_VOCAB_PRE_TYPE_(\w+)", text):
        before, previous = text[previous : assignment.start()], assignment.end()
        cond = before[before.rfind("if (") :] if "if (" in before else ""
        if re.fullmatch(r"if \([^{;]*?\) \{\s*", cond):
            for name in re.findall(r'tokenizer_pre == "([^"]+)"', cond):
                types.setdefault(name, assignment[1])
    regexes: dict[str, tuple[str, ...]] = {}
    block = r"case LLAMA_VOCAB_PRE_TYPE_(\w+):((?:\s*case LLAMA_VOCAB_PRE_TYPE_\w+:)*)\s*regex_exprs = \{(.*?)\};"
    for first, more, body in re.findall(block, text, re.S):
        if run_only:  # leave out the original regexes quoted in comments beside their adaptations
            body = re.sub(r"^\s*//.*$", "", body, flags=re.M)
        exprs = tuple(re.findall(r'"((?:[^"\\]|\\.)*)"', body))
        for kind in (first, *re.findall(r"LLAMA_VOCAB_PRE_TYPE_(\w+)", more)):
            regexes[kind] = exprs
    return {name: regexes.get(kind, ()) for name, kind in types.items()}


def loader_flags(sources: Path) -> dict[str, dict[str, str]]:
    """For each tokenizer.ggml.pre name llama.cpp's loader accepts, what else the name decides besides the split
    regexes: the tokenizer flags its branch sets (clean_spaces, ignore_merges, add_bos, add_sep,
    escape_whitespaces...; the defaults a BPE vocabulary starts from filled in), its pre-type where code
    elsewhere in src/ tests for that type (Gemma 4's newline runs, Tekken's chat template), and the special-token
    rules keyed on the name's text (Jina's <mask>, Kimi K2's missing merges)."""
    vocab_cpp = (sources / "src" / "llama-vocab.cpp").read_text(encoding="utf-8")
    others = "\n".join(p.read_text(encoding="utf-8") for p in sorted((sources / "src").glob("*.cpp")))
    start = vocab_cpp.find("struct llama_vocab::impl {")
    members = vocab_cpp[start : vocab_cpp.find("};", start)]
    defaults = dict(re.findall(r"\bbool (\w+)\s*=\s*(true|false);", members))
    bpe = vocab_cpp.find("if (type == LLAMA_VOCAB_TYPE_BPE) {")
    defaults.update(re.findall(r"(\w+) = (true|false);", vocab_cpp[bpe : vocab_cpp.find("if (", bpe + 10)]))
    checked_types = set(re.findall(r"pre_type\s*==\s*LLAMA_VOCAB_PRE_TYPE_(\w+)", others))
    checked_names = set(re.findall(r'tokenizer_pre == "([^"]+)"\)', vocab_cpp[:bpe]))  # is_kimi_k2 and alike
    contained = re.findall(r"_contains_any\(tokenizer_pre, \{([^}]*)\}\)", vocab_cpp)
    substrings = {s for group in contained for s in re.findall(r'"([^"]+)"', group)}
    flags: dict[str, dict[str, str]] = {}
    previous = 0
    for assignment in re.finditer(r"pre_type\s*=\s*LLAMA_VOCAB_PRE_TYPE_(\w+);", vocab_cpp):
        before, previous = vocab_cpp[previous : assignment.start()], assignment.end()
        cond = before[before.rfind("if (") :] if "if (" in before else ""
        if not re.fullmatch(r"if \([^{;]*?\) \{\s*", cond):
            continue
        body = vocab_cpp[assignment.end() : vocab_cpp.find("}", assignment.end())]
        branch = {**defaults, **dict(re.findall(r"(\w+) = (true|false);", body))}
        for name in re.findall(r'tokenizer_pre == "([^"]+)"', cond):
            if name in flags:
                continue
            flags[name] = dict(branch)
            if assignment[1] in checked_types:
                flags[name]["pre_type"] = assignment[1]
            for special in {s for s in checked_names if s == name} | {s for s in substrings if s in name}:
                flags[name][f"name:{special}"] = "true"
    return flags
