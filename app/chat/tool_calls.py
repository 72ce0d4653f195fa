"""Tool calls in the text a model generates: which syntax a chat template teaches, the grammar that forces
a call in that syntax, and the parser that takes calls (and `<think>` reasoning) out of a reply.

One row per family, detected from the template's own text:
  hermes    Hermes / Qwen 2.5-3: <tool_call>{"name": ..., "arguments": {...}}</tool_call>
  qwen3-xml Qwen3-Coder, Qwen 3.5, Nemotron 3: <tool_call><function=name><parameter=k>v</parameter></function>
  llama3    Llama 3.1-3.3: a bare {"name": ..., "parameters": {...}} (optionally after <|python_tag|>)
  mistral   [TOOL_CALLS][{"name": ..., "arguments": {...}}] (Nemo) or [TOOL_CALLS]name[ARGS]{...} (v11+)
  harmony   gpt-oss: <|channel|>commentary to=functions.name <|constrain|>json<|message|>{...}
  deepseek  <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>name<｜tool▁sep｜>{...}<｜tool▁call▁end｜> (V3.1), or
            function<｜tool▁sep｜>name\\n```json\\n{...}\\n```  (R1)
  kimi      Kimi K2: <|tool_calls_section_begin|><|tool_call_begin|>functions.name:0<|tool_call_argument_begin|>{...}…
  command-r Command R7B / R+: <|START_ACTION|>[{"tool_call_id": "0", "tool_name": ..., "parameters": {...}}]
            <|END_ACTION|>
  granite   Granite 3.x: <|tool_call|>[{"name": ..., "arguments": {...}}] (Granite 4 writes hermes)
  glm       GLM 4.5-4.7: <tool_call>name\\n<arg_key>k</arg_key>\\n<arg_value>v</arg_value>\\n</tool_call>
A template with no tool syntax of its own gets the hermes syntax (its instructions go in a system message).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from app.chat import grammar as g
from app.chat.protocol import ToolCall

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
_DS_CALLS, _DS_CALL, _DS_SEP, _DS_END, _DS_CALLS_END = (
    "<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>", "<｜tool▁sep｜>", "<｜tool▁call▁end｜>", "<｜tool▁calls▁end｜>",
)


@dataclass(frozen=True, slots=True)
class Tool:
    """A function the model may call (OpenAI's `tools[].function`; Anthropic's tool with `input_schema`)."""

    name: str
    description: str
    parameters: dict[str, Any]

    def as_openai(self) -> dict[str, Any]:
        """The form chat templates expect (what transformers passes as `tools`)."""
        return {"type": "function",
                "function": {"name": self.name, "description": self.description, "parameters": self.parameters}}


@dataclass(frozen=True, slots=True)
class Reply:
    content: str
    reasoning: str | None
    calls: tuple[ToolCall, ...]


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    detect: Callable[[str], bool]  # the template's source -> whether it teaches this syntax
    starts: tuple[str, ...]  # text that begins a call: a stream holds text back from here on
    special_text: bool  # the call markers are control tokens, which the engine must show as text
    call: Callable[[str, str], str]  # GBNF of one call: (literal of the name, rule of its arguments)
    parse_calls: Callable[[str], tuple[str, list[tuple[str, Any]]]]  # text -> (content, [(name, args)])
    short_ids: bool = False  # the template insists on call ids of 9 letters and digits (Mistral)
    xml_arguments: bool = False  # arguments are elements, one per property, not a JSON object
    element: Callable[[str], tuple[str, str]] | None = None  # an argument's opening and closing text (XML)

    def example(self, name: str, arguments: str) -> str:
        """One call written in this syntax (for instructions in a system message)."""
        if self.xml_arguments:
            try:
                values = json.loads(arguments)
            except ValueError:
                values = {"<parameter-name>": "<value>"}
            element = self.element or _qwen_element
            arguments = "".join(element(k)[0] + (v if isinstance(v, str) else json.dumps(v)) + element(k)[1]
                                for k, v in (values.items() if isinstance(values, dict) else ()))
        return _literal_text(self.call(_quote(name), _quote(arguments)))


def _quote(text: str) -> str:
    return g.literal(text)


def _literal_text(gbnf: str) -> str:
    """The text of a GBNF sequence made only of string literals."""
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', gbnf)
    return "".join(json.loads(f'"{p}"') for p in parts)


def template_call_id(family: Family, call_id: str) -> str:
    """The id a template is shown: Mistral's raise an exception unless it is 9 letters and digits."""
    if not family.short_ids or (len(call_id) == 9 and call_id.isalnum()):
        return call_id
    import hashlib

    digest = hashlib.sha256(call_id.encode()).hexdigest()
    return digest[:9]


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def _json_at(text: str, start: int) -> tuple[Any, int] | None:
    """The JSON value that starts at `start` (after blanks) and where it ends."""
    while start < len(text) and text[start] in " \t\r\n":
        start += 1
    try:
        return json.JSONDecoder().raw_decode(text, start)
    except ValueError:
        return None


def _named(value: Any, args_keys: tuple[str, ...] = ("arguments", "parameters")) -> tuple[str, Any] | None:
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return None
    args: Any = next((value[k] for k in args_keys if k in value), {})
    return value["name"], args


# ---------------------------------------------------------------- hermes / Qwen


_HERMES_OPEN, _HERMES_CLOSE = "<tool_call>", "</tool_call>"


def _parse_hermes(text: str) -> tuple[str, list[tuple[str, Any]]]:
    calls: list[tuple[str, Any]] = []
    content: list[str] = []
    pos = 0
    while (start := text.find(_HERMES_OPEN, pos)) >= 0:
        parsed = _json_at(text, start + len(_HERMES_OPEN))
        call = _named(parsed[0]) if parsed else None
        if parsed is None or call is None:
            break
        content.append(text[pos:start])
        calls.append(call)
        end = parsed[1]
        close = text.find(_HERMES_CLOSE, end)
        pos = close + len(_HERMES_CLOSE) if close >= 0 and not text[end:close].strip() else end
    content.append(text[pos:])
    return "".join(content), calls


def _hermes_call(name: str, args: str) -> str:
    return f'"<tool_call>\\n{{\\"name\\": \\"" {name} "\\", \\"arguments\\": " {args} "}}\\n</tool_call>"'


# ---------------------------------------------------------------- Qwen3-Coder / Qwen 3.5 XML


_XML_FUNCTION = re.compile(r"<function=([^>\n]+)>(.*?)(?:</function>|\Z)", re.S)
_XML_PARAMETER = re.compile(r"<parameter=([^>\n]+)>\n?(.*?)\n?</parameter>", re.S)


def _xml_value(text: str) -> Any:
    """A parameter's value: JSON when it reads as JSON (numbers, objects, lists), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _parse_xml(text: str) -> tuple[str, list[tuple[str, Any]]]:
    start = text.find(_HERMES_OPEN)
    if start < 0 or "<function=" not in text[start:]:
        return text, []
    calls = [(m.group(1).strip(), {k.strip(): _xml_value(v) for k, v in _XML_PARAMETER.findall(m.group(2))})
             for m in _XML_FUNCTION.finditer(text, start)]
    end = text.rfind(_HERMES_CLOSE)
    rest = text[end + len(_HERMES_CLOSE):] if end > start else ""
    return text[:start] + rest, calls


def _xml_call(name: str, args: str) -> str:
    # `args` is a rule of parameter elements (see _xml_parameters), not a JSON object.
    return f'"<tool_call>\\n<function=" {name} ">\\n" {args} "</function>\\n</tool_call>"'


# ---------------------------------------------------------------- Llama 3.x


_PYTHON_TAG = "<|python_tag|>"


def _parse_llama3(text: str) -> tuple[str, list[tuple[str, Any]]]:
    body = text.strip()
    if body.startswith(_PYTHON_TAG):
        body = body[len(_PYTHON_TAG):]
    calls: list[tuple[str, Any]] = []
    pos = 0
    while True:  # one call, or several separated by ';'
        parsed = _json_at(body, pos)
        call = _named(parsed[0], ("parameters", "arguments")) if parsed else None
        if parsed is None or call is None:
            break
        calls.append(call)
        pos = parsed[1]
        rest = body[pos:].lstrip()
        if not rest.startswith(";"):
            break
        pos = len(body) - len(rest) + 1
    if not calls or body[pos:].strip():
        return text, []  # a reply that is not one JSON call is plain text
    return "", calls


def _llama3_call(name: str, args: str) -> str:
    return f'"{{\\"name\\": \\"" {name} "\\", \\"parameters\\": " {args} "}}"'


# ---------------------------------------------------------------- Mistral


_MISTRAL, _MISTRAL_ARGS = "[TOOL_CALLS]", "[ARGS]"


def _parse_mistral(text: str) -> tuple[str, list[tuple[str, Any]]]:
    start = text.find(_MISTRAL)
    if start < 0:
        return text, []
    calls: list[tuple[str, Any]] = []
    pos = start
    while text.startswith(_MISTRAL, pos):
        pos += len(_MISTRAL)
        parsed = _json_at(text, pos)
        if parsed is not None and isinstance(parsed[0], list):  # Nemo: a JSON list of calls
            calls.extend(c for c in map(_named, parsed[0]) if c is not None)
            pos = parsed[1]
            continue
        args_at = text.find(_MISTRAL_ARGS, pos)  # v11+: name[ARGS]{...}
        if args_at < 0:
            break
        name = text[pos:args_at].split("[CALL_ID]")[0].strip()  # name[CALL_ID]id[ARGS]: the id is ours to give
        parsed = _json_at(text, args_at + len(_MISTRAL_ARGS))
        if parsed is None or not name:
            break
        calls.append((name, parsed[0]))
        pos = parsed[1]
        while pos < len(text) and text[pos] in " \n":
            pos += 1
    return text[:start] + text[pos:], calls


def _mistral_call(name: str, args: str) -> str:
    return f'"[TOOL_CALLS][{{\\"name\\": \\"" {name} "\\", \\"arguments\\": " {args} "}}]"'


def _mistral_v11_call(name: str, args: str) -> str:
    return f'"[TOOL_CALLS]" {name} "[ARGS]" {args}'


# ---------------------------------------------------------------- gpt-oss harmony


_HARMONY = re.compile(r"<\|channel\|>(\w+)(.*?)<\|message\|>(.*?)(?=<\|end\|>|<\|start\|>|<\|channel\|>|\Z)", re.S)
_RECIPIENT = re.compile(r"to=functions\.([\w.-]+)")


def parse_harmony(text: str) -> Reply:
    if "<|channel|>" not in text:
        return Reply(text, None, ())
    content, reasoning, calls = [], [], []
    previous = 0
    for match in _HARMONY.finditer(text):
        channel, header, body = match.group(1), match.group(2), match.group(3)
        # The recipient is written after the channel name or before the channel, in the message's header.
        recipient = _RECIPIENT.search(header) or _RECIPIENT.search(text, previous, match.start())
        previous = match.end()
        if channel == "analysis":
            reasoning.append(body)
        elif channel == "commentary" and recipient:
            parsed = _json_at(body, 0)
            args = parsed[0] if parsed else body
            calls.append(ToolCall(new_call_id(), recipient.group(1), _arguments_text(args)))
        else:
            content.append(body)
    return Reply("".join(content), "".join(reasoning) or None, tuple(calls))


def _harmony_calls(text: str) -> tuple[str, list[tuple[str, Any]]]:
    reply = parse_harmony(text)
    return reply.content, [(c.name, c.arguments) for c in reply.calls]


def _harmony_call(name: str, args: str) -> str:
    return f'"<|channel|>commentary to=functions." {name} " <|constrain|>json<|message|>" {args}'


# ---------------------------------------------------------------- DeepSeek


def _parse_deepseek(text: str) -> tuple[str, list[tuple[str, Any]]]:
    start = text.find(_DS_CALLS)
    if start < 0:
        start = text.find(_DS_CALL)
    if start < 0:
        return text, []
    calls: list[tuple[str, Any]] = []
    pos = start
    while (begin := text.find(_DS_CALL, pos)) >= 0:
        sep = text.find(_DS_SEP, begin)
        if sep < 0:
            break
        head = text[begin + len(_DS_CALL):sep]
        rest_at = sep + len(_DS_SEP)
        if head == "function":  # R1: function<sep>name\n```json\n{...}\n```
            newline = text.find("\n", rest_at)
            if newline < 0:
                break
            name = text[rest_at:newline].strip()
            rest_at = newline + 1
            if text.startswith("```json", rest_at):
                rest_at += len("```json")
        else:
            name = head.strip()
        parsed = _json_at(text, rest_at)
        if parsed is None:
            break
        calls.append((name, parsed[0]))
        end = text.find(_DS_END, parsed[1])
        pos = end + len(_DS_END) if end >= 0 else parsed[1]
    tail = text.find(_DS_CALLS_END, pos)
    if tail >= 0:
        pos = tail + len(_DS_CALLS_END)
    return text[:start] + text[pos:], calls


def _deepseek_call(name: str, args: str) -> str:
    return (f'"{_DS_CALLS}{_DS_CALL}" {name} "{_DS_SEP}" {args} "{_DS_END}{_DS_CALLS_END}"')


def _deepseek_r1_call(name: str, args: str) -> str:
    return (f'"{_DS_CALLS}{_DS_CALL}function{_DS_SEP}" {name} "\\n```json\\n" {args} '
            f'"\\n```{_DS_END}{_DS_CALLS_END}"')


# ---------------------------------------------------------------- Command-R


_COHERE_ACTION, _COHERE_ACTION_END = "<|START_ACTION|>", "<|END_ACTION|>"
_COHERE_MARKERS = re.compile(r"<\|(?:START|END)_RESPONSE\|>|<\|START_THINKING\|>.*?<\|END_THINKING\|>", re.S)


def _parse_command_r(text: str) -> tuple[str, list[tuple[str, Any]]]:
    start = text.find(_COHERE_ACTION)
    if start < 0:
        return _COHERE_MARKERS.sub("", text), []
    parsed = _json_at(text, start + len(_COHERE_ACTION))
    if parsed is None or not isinstance(parsed[0], list):
        return _COHERE_MARKERS.sub("", text), []
    calls = [(c["tool_name"], c.get("parameters", {})) for c in parsed[0]
             if isinstance(c, dict) and isinstance(c.get("tool_name"), str)]
    end = text.find(_COHERE_ACTION_END, parsed[1])
    pos = end + len(_COHERE_ACTION_END) if end >= 0 else parsed[1]
    return _COHERE_MARKERS.sub("", text[:start] + text[pos:]), calls


def _command_r_call(name: str, args: str) -> str:
    return (f'"{_COHERE_ACTION}[\\n    {{\\"tool_call_id\\": \\"0\\", \\"tool_name\\": \\"" {name} '
            f'"\\", \\"parameters\\": " {args} "}}\\n]{_COHERE_ACTION_END}"')


# ---------------------------------------------------------------- Granite 3.x


_GRANITE = "<|tool_call|>"


def _parse_granite(text: str) -> tuple[str, list[tuple[str, Any]]]:
    start = text.find(_GRANITE)
    parsed = _json_at(text, start + len(_GRANITE)) if start >= 0 else None
    if parsed is None:
        return text, []
    items = parsed[0] if isinstance(parsed[0], list) else [parsed[0]]
    calls = [c for c in map(_named, items) if c is not None]
    return (text[:start] + text[parsed[1]:], calls) if calls else (text, [])


def _granite_call(name: str, args: str) -> str:
    return f'"{_GRANITE}[{{\\"name\\": \\"" {name} "\\", \\"arguments\\": " {args} "}}]"'


# ---------------------------------------------------------------- Kimi K2


_KIMI_SECTION, _KIMI_SECTION_END = "<|tool_calls_section_begin|>", "<|tool_calls_section_end|>"
_KIMI_CALL, _KIMI_ARGS, _KIMI_END = "<|tool_call_begin|>", "<|tool_call_argument_begin|>", "<|tool_call_end|>"
_KIMI_ID = re.compile(r"\s*(?:functions\.)?(.+?)(?::\d+)?\s*$", re.S)


def _parse_kimi(text: str) -> tuple[str, list[tuple[str, Any]]]:
    start = text.find(_KIMI_SECTION)
    if start < 0:
        start = text.find(_KIMI_CALL)
    if start < 0:
        return text, []
    calls: list[tuple[str, Any]] = []
    pos = start
    while (begin := text.find(_KIMI_CALL, pos)) >= 0:
        args_at = text.find(_KIMI_ARGS, begin)
        name = _KIMI_ID.match(text[begin + len(_KIMI_CALL):args_at]) if args_at >= 0 else None
        parsed = _json_at(text, args_at + len(_KIMI_ARGS)) if name else None
        if name is None or parsed is None:
            break
        calls.append((name.group(1), parsed[0]))
        end = text.find(_KIMI_END, parsed[1])
        pos = end + len(_KIMI_END) if end >= 0 else parsed[1]
    tail = text.find(_KIMI_SECTION_END, pos)
    if tail >= 0:
        pos = tail + len(_KIMI_SECTION_END)
    return text[:start] + text[pos:], calls


def _kimi_call(name: str, args: str) -> str:
    return f'"{_KIMI_SECTION}{_KIMI_CALL}functions." {name} ":0{_KIMI_ARGS}" {args} "{_KIMI_END}{_KIMI_SECTION_END}"'


# ---------------------------------------------------------------- GLM 4.5-4.7


_GLM_CALL = re.compile(r"<tool_call>([^\n<]+)(.*?)(?:</tool_call>|\Z)", re.S)
_GLM_ARG = re.compile(r"<arg_key>(.*?)</arg_key>\s*<arg_value>(.*?)</arg_value>", re.S)


def _parse_glm(text: str) -> tuple[str, list[tuple[str, Any]]]:
    start = text.find(_HERMES_OPEN)
    if start < 0:
        return text, []
    calls = [(m.group(1).strip(), {k.strip(): _xml_value(v) for k, v in _GLM_ARG.findall(m.group(2))})
             for m in _GLM_CALL.finditer(text, start)]
    end = text.rfind(_HERMES_CLOSE)
    rest = text[end + len(_HERMES_CLOSE):] if end > start else ""
    return text[:start] + rest, calls


def _glm_call(name: str, args: str) -> str:
    # `args` is a rule of <arg_key>/<arg_value> pairs (see _xml_parameters), not a JSON object.
    return f'"<tool_call>" {name} "\\n" {args} "</tool_call>"'


def _glm_element(key: str) -> tuple[str, str]:
    return f"<arg_key>{key}</arg_key>\n<arg_value>", "</arg_value>\n"


def _qwen_element(key: str) -> tuple[str, str]:
    return f"<parameter={key}>\n", "\n</parameter>\n"


# ---------------------------------------------------------------- the table


FAMILIES: tuple[Family, ...] = (
    Family("harmony", lambda t: "<|channel|>" in t and "<|message|>" in t, ("<|channel|>", "<|start|>"), True,
           _harmony_call, _harmony_calls),
    Family("deepseek-r1", lambda t: _DS_CALLS in t and "```json" in t, (_DS_CALLS, _DS_CALL), True,
           _deepseek_r1_call, _parse_deepseek),
    Family("deepseek", lambda t: _DS_CALLS in t, (_DS_CALLS, _DS_CALL), True, _deepseek_call, _parse_deepseek),
    Family("mistral-v11", lambda t: _MISTRAL in t and _MISTRAL_ARGS in t, (_MISTRAL,), True,
           _mistral_v11_call, _parse_mistral, short_ids=True),
    Family("mistral", lambda t: _MISTRAL in t, (_MISTRAL,), True, _mistral_call, _parse_mistral, short_ids=True),
    Family("kimi", lambda t: _KIMI_SECTION in t, (_KIMI_SECTION, _KIMI_CALL), True, _kimi_call, _parse_kimi),
    Family("command-r", lambda t: _COHERE_ACTION in t, (_COHERE_ACTION,), True, _command_r_call, _parse_command_r),
    Family("granite", lambda t: _GRANITE in t, (_GRANITE,), True, _granite_call, _parse_granite),
    Family("glm", lambda t: _HERMES_OPEN in t and "<arg_key>" in t, (_HERMES_OPEN,), True, _glm_call, _parse_glm,
           xml_arguments=True, element=_glm_element),
    Family("qwen3-xml", lambda t: _HERMES_OPEN in t and "<function=" in t and "<parameter=" in t, (_HERMES_OPEN,),
           False, _xml_call, _parse_xml, xml_arguments=True),
    Family("hermes", lambda t: _HERMES_OPEN in t, (_HERMES_OPEN,), False, _hermes_call, _parse_hermes),
    Family("llama3", lambda t: "<|start_header_id|>" in t and ("ipython" in t or '"parameters"' in t),
           (_PYTHON_TAG, '{"name"'), True, _llama3_call, _parse_llama3),
)
HERMES = next(f for f in FAMILIES if f.name == "hermes")


def family_of(template: str | None) -> Family:
    """The tool syntax a template teaches; hermes for templates that teach none."""
    source = template or ""
    return next((f for f in FAMILIES if f.detect(source)), HERMES)


def teaches_tools(template: str | None) -> bool:
    """Whether the template renders the `tools` it is given (else we describe them in a system message)."""
    return bool(template) and "tools" in (template or "")


def tools_system_prompt(family: Family, tools: Sequence[Tool]) -> str:
    """Instructions for a template that does not render tools itself, in the syntax it parses."""
    listing = "\n".join(json.dumps(t.as_openai(), ensure_ascii=False) for t in tools)
    example = family.example("<function-name>", "<args-json-object>")
    return ("You may call one or more functions to assist with the user query. The functions are:\n<tools>\n"
            f"{listing}\n</tools>\n\nTo call a function, reply with its name and arguments like this:\n{example}")


# ---------------------------------------------------------------- grammar, parsing


def forced_call_grammar(family: Family, tools: Sequence[Tool], name: str | None = None) -> str:
    """A grammar under which the reply is exactly one well-formed call of `name` (or of any tool)."""
    chosen = [t for t in tools if name is None or t.name == name]
    if not chosen:
        raise g.GrammarError(f"There is no tool named {name!r} among the tools given")
    rules = g.new_rules()
    alternatives = []
    for i, tool in enumerate(chosen):
        where = f"the parameters of tool {tool.name!r}"
        if family.xml_arguments:
            args = _xml_parameters(rules, tool.parameters or {}, f"tool{i}", where, family.element or _qwen_element)
        else:
            args = rules.schema_rule(tool.parameters or {"type": "object"}, f"tool{i}-args", where)
        alternatives.append(rules.add(f"tool{i}-call", family.call(g.literal(tool.name), args)))
    rules.add("root", " | ".join(alternatives))
    return rules.text()


def _xml_parameters(rules: Any, schema: dict[str, Any], prefix: str, where: str,
                    element: Callable[[str], tuple[str, str]]) -> str:
    """The required parameters as elements (<parameter=name>, GLM's <arg_key>/<arg_value>), each value JSON
    of its own schema (the parser reads JSON first, so a string comes back as that string)."""
    properties = schema.get("properties") or {}
    required = [k for k in schema.get("required") or [] if k in properties]
    parts = []
    for j, key in enumerate(required):
        value = rules.schema_rule(properties[key], f"{prefix}-p{j}", f"{where} ({key})")
        opening, closing = (g.literal(part) for part in element(key))
        parts.append(f"{opening} {value} {closing}")
    return rules.add(f"{prefix}-args", " ".join(parts) if parts else '""')


def split_reasoning(text: str) -> tuple[str | None, str]:
    """(<think> text, the rest). A reply that closes a think block it never opened was started inside one
    (templates that open it in the generation prompt)."""
    close = text.find(THINK_CLOSE)
    if close < 0:
        stripped = text.lstrip()
        if stripped.startswith(THINK_OPEN):  # still thinking when the reply ended
            return stripped[len(THINK_OPEN):].strip(), ""
        return None, text
    before = text[:close]
    open_at = before.find(THINK_OPEN)
    if open_at >= 0 and before[:open_at].strip():
        return None, text  # a think tag inside the answer, not a reasoning block
    reasoning = before[open_at + len(THINK_OPEN):] if open_at >= 0 else before
    return reasoning.strip(), text[close + len(THINK_CLOSE):].lstrip()


def _arguments_text(args: Any) -> str:
    return args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)


def parse_reply(text: str, family: Family | None) -> Reply:
    """The reply's content, reasoning and tool calls (`family` None: no tools were offered)."""
    if family is not None and family.name == "harmony":
        return parse_harmony(text)
    reasoning, rest = split_reasoning(text)
    if family is None:
        return Reply(rest, reasoning, ())
    content, calls = family.parse_calls(rest)
    made = tuple(ToolCall(new_call_id(), name, _arguments_text(args)) for name, args in calls)
    return Reply(content.strip() if made else content, reasoning, made)


def held_from(text: str, markers: Sequence[str]) -> int:
    """Where a stream must start holding text back: the first marker, or a tail that may begin one."""
    first = min((i for i in (text.find(m) for m in markers) if i >= 0), default=-1)
    if first >= 0:
        return first
    for size in range(min(len(text), max((len(m) for m in markers), default=0)), 0, -1):
        tail = text[-size:]
        if any(m.startswith(tail) for m in markers):
            return len(text) - size
    return len(text)


__all__ = ["FAMILIES", "Family", "Reply", "Tool", "family_of", "forced_call_grammar", "held_from",
           "parse_reply", "split_reasoning", "teaches_tools", "tools_system_prompt"]
