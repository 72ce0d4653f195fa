"""Request bodies, parsed once into frozen values. Anything malformed is a 400 ApiError naming the field.

Sampling fields the client leaves out keep the engine's defaults (app.chat.protocol.Sampling). Features
not served yet (logit_bias, logprobs, n > 1) are refused by name instead of being ignored. A JSON schema
(response_format) becomes its grammar here, so a schema the converter cannot take is a 400 naming it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from typing import Any

from app.chat import grammar
from app.chat.media import compose
from app.chat.protocol import ChatMessage, MediaPart, Sampling, ToolCall
from app.chat.tool_calls import Tool, new_call_id
from app.server import media_parts
from app.server.errors import ApiError, bad_request

MAX_STOPS = 16
MAX_TOOLS = 128
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant", "tool": "tool"}
ToolChoice = str  # "auto" | "none" | "required" | "function" (then GenerationRequest.tool_name)


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """What every endpoint asks of an engine: a chat (`messages`) or a completion (`prompt`)."""

    model: str
    messages: tuple[ChatMessage, ...]
    prompt: str | None
    sampling: Sampling
    stream: bool
    include_usage: bool = False
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice = "auto"
    tool_name: str | None = None  # the function tool_choice names
    thinking: bool = False  # Anthropic's extended thinking: the model's reasoning comes back as thinking blocks


def parse_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise bad_request("The request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object")
    return data


# ---------------------------------------------------------------- field readers


def _number(data: dict[str, Any], key: str, low: float, high: float) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad_request(f"'{key}' must be a number", key)
    if not low <= value <= high:
        raise bad_request(f"'{key}' must be between {low:g} and {high:g}, got {value}", key)
    return float(value)


def _integer(data: dict[str, Any], key: str, low: int, high: int | None = None) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"'{key}' must be an integer", key)
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise bad_request(f"'{key}' must be {bound}, got {value}", key)
    return value


def _boolean(data: dict[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad_request(f"'{key}' must be true or false", key)
    return value


def _model(data: dict[str, Any]) -> str:
    model = data.get("model")
    if not isinstance(model, str) or not model.strip():
        raise bad_request("'model' is required: one of the ids GET /v1/models lists", "model")
    return model.strip()


def _stops(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
        raise bad_request(f"'{key}' must be a string or a list of strings", key)
    if len(items) > MAX_STOPS:
        raise bad_request(f"'{key}' may hold at most {MAX_STOPS} strings", key)
    return tuple(dict.fromkeys(s for s in items if s))


def _refuse(data: dict[str, Any], keys: tuple[str, ...]) -> None:
    """Fields whose meaning we do not implement yet: a silent ignore would give a wrong answer."""
    for key in keys:
        value = data.get(key)
        if value not in (None, False, [], {}):
            raise bad_request(f"'{key}' is not supported by this server yet", key)


def _sampling(data: dict[str, Any], max_key_values: tuple[int | None, ...], temperature_max: float,
              stop: tuple[str, ...]) -> Sampling:
    base = Sampling()
    changes: dict[str, Any] = {"stop": stop}
    for key, low, high in (("temperature", 0.0, temperature_max), ("top_p", 0.0, 1.0), ("min_p", 0.0, 1.0),
                           ("presence_penalty", -2.0, 2.0), ("frequency_penalty", -2.0, 2.0),
                           ("repeat_penalty", 0.0, 10.0)):
        value = _number(data, key, low, high)
        if value is not None:
            changes[key] = value
    top_k = _integer(data, "top_k", 0)
    if top_k is not None:
        changes["top_k"] = top_k
    seed = _integer(data, "seed", -(2**63), 2**64 - 1)
    if seed is not None:
        changes["seed"] = seed & 0xFFFFFFFF  # llama.cpp's sampler seed is 32 bits
    max_tokens = next((v for v in max_key_values if v is not None), None)
    if max_tokens is not None:
        changes["max_tokens"] = max_tokens
    return replace(base, **changes)


def _one_choice(data: dict[str, Any]) -> None:
    n = _integer(data, "n", 1)
    if n is not None and n != 1:
        raise bad_request("Only n=1 is supported: send one request per choice", "n")


# ---------------------------------------------------------------- OpenAI


def _text_content(content: Any, where: str) -> str:
    """A message's content: a string, or a list of text parts (images and audio are refused)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise bad_request(f"{where}: only text content is supported, not {kind!r}", where)
            texts.append(part["text"])
        return "".join(texts)
    raise bad_request(f"{where} must be a string or a list of text parts", where)


def _response_grammar(data: dict[str, Any]) -> str | None:
    fmt = data.get("response_format")
    if fmt is None:
        return None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "text":
        return None
    try:
        if kind == "json_object":
            return grammar.json_object_grammar()
        if kind == "json_schema":
            spec = fmt.get("json_schema")
            if not isinstance(spec, dict) or "schema" not in spec:
                raise bad_request("'response_format.json_schema' must be an object with a 'schema'",
                                  "response_format")
            name = spec.get("name") or "the schema"
            return grammar.json_schema_grammar(spec["schema"], f"response_format.json_schema ({name})")
    except grammar.GrammarError as exc:
        raise bad_request(str(exc), "response_format") from None
    raise bad_request("'response_format.type' must be text, json_object or json_schema", "response_format")


def _openai_tools(data: dict[str, Any]) -> tuple[Tool, ...]:
    raw = data.get("tools")
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_TOOLS:
        raise bad_request(f"'tools' must be a list of at most {MAX_TOOLS} tools", "tools")
    tools = []
    for i, item in enumerate(raw):
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(item, dict) or item.get("type", "function") != "function" or not isinstance(function, dict):
            raise bad_request(f"tools[{i}] must be a function tool: {{type: function, function: {{name, ...}}}}",
                              "tools")
        tools.append(_tool(function.get("name"), function.get("description"), function.get("parameters"),
                           f"tools[{i}].function"))
    return tuple(tools)


def _tool(name: Any, description: Any, parameters: Any, where: str) -> Tool:
    if not isinstance(name, str) or not name.strip():
        raise bad_request(f"{where}.name must be a non-empty string", "tools")
    if parameters is None:
        parameters = {"type": "object", "properties": {}}
    if not isinstance(parameters, dict):
        raise bad_request(f"{where} parameters must be a JSON schema object", "tools")
    return Tool(name, description if isinstance(description, str) else "", parameters)


def _openai_tool_choice(data: dict[str, Any], tools: tuple[Tool, ...]) -> tuple[ToolChoice, str | None]:
    choice = data.get("tool_choice")
    if choice is None:
        return ("auto" if tools else "none"), None
    if choice in ("auto", "none", "required"):
        name = None
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        choice = "function"
    else:
        raise bad_request("'tool_choice' must be auto, none, required or {type: function, function: {name}}",
                          "tool_choice")
    return _checked_choice(choice, name, tools, "tool_choice")


def _checked_choice(choice: str, name: Any, tools: tuple[Tool, ...], key: str) -> tuple[ToolChoice, str | None]:
    if choice in ("required", "function") and not tools:
        raise bad_request(f"'{key}' asks for a tool call, but no tools were given", key)
    if choice == "function" and not any(t.name == name for t in tools):
        raise bad_request(f"'{key}' names the function {name!r}, which is not among the tools", key)
    return choice, name if choice == "function" else None


def _openai_calls(raw: Any, where: str) -> tuple[ToolCall, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise bad_request(f"{where} must be a list", where)
    calls = []
    for j, call in enumerate(raw):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise bad_request(f"{where}[{j}] must be {{id, type: function, function: {{name, arguments}}}}", where)
        arguments = function.get("arguments", "{}")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False)
        call_id = call.get("id") if isinstance(call.get("id"), str) else new_call_id()
        calls.append(ToolCall(call_id, function["name"], arguments))
    return tuple(calls)


def _openai_message(message: Any, where: str) -> ChatMessage:
    if not isinstance(message, dict):
        raise bad_request(f"{where} must be an object", where)
    role = _ROLES.get(message.get("role"))  # type: ignore[arg-type]
    if role is None:
        raise bad_request(f"{where}.role must be system, developer, user, assistant or tool", f"{where}.role")
    if role == "user" and isinstance(message.get("content"), list):  # text, images and audio
        text, media = media_parts.openai_content(message["content"], f"{where}.content")
        return ChatMessage(role, text, media=media)
    content = _text_content(message.get("content"), f"{where}.content")
    if role == "tool":
        call_id = message.get("tool_call_id")
        if not isinstance(call_id, str):
            raise bad_request(f"{where}.tool_call_id is required for a tool message", f"{where}.tool_call_id")
        name = message.get("name")
        return ChatMessage("tool", content, tool_call_id=call_id, name=name if isinstance(name, str) else None)
    if role == "assistant":
        reasoning = message.get("reasoning_content")
        return ChatMessage(role, content, tool_calls=_openai_calls(message.get("tool_calls"), f"{where}.tool_calls"),
                           reasoning=reasoning if isinstance(reasoning, str) else None)
    return ChatMessage(role, content)


def _named_tool_messages(messages: list[ChatMessage]) -> list[ChatMessage]:
    """Tool results carry the name of the function they answer (several templates print it)."""
    names = {c.id: c.name for m in messages for c in m.tool_calls}
    return [replace(m, name=names.get(m.tool_call_id)) if m.role == "tool" and m.name is None
            and m.tool_call_id in names else m for m in messages]


def parse_chat(data: dict[str, Any]) -> GenerationRequest:
    model = _model(data)
    _refuse(data, ("functions", "function_call", "logit_bias", "logprobs", "top_logprobs", "audio"))
    response_grammar = _response_grammar(data)
    tools = _openai_tools(data)
    choice, tool_name = _openai_tool_choice(data, tools)
    _one_choice(data)
    raw = data.get("messages")
    if not isinstance(raw, list) or not raw:
        raise bad_request("'messages' must be a non-empty list", "messages")
    messages = _named_tool_messages([_openai_message(m, f"messages[{i}]") for i, m in enumerate(raw)])
    stream = _boolean(data, "stream")
    options = data.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise bad_request("'stream_options' must be an object", "stream_options")
    include_usage = bool(options and _boolean(options, "include_usage"))
    sampling = _sampling(
        data,
        (_integer(data, "max_completion_tokens", 1), _integer(data, "max_tokens", 1)),
        2.0,
        _stops(data.get("stop"), "stop"),
    )
    sampling = replace(sampling, grammar=response_grammar)
    return GenerationRequest(model, tuple(messages), None, sampling, stream, include_usage, tools, choice, tool_name)


def parse_completion(data: dict[str, Any]) -> GenerationRequest:
    model = _model(data)
    _refuse(data, ("logit_bias", "logprobs", "echo", "suffix"))
    _one_choice(data)
    best_of = _integer(data, "best_of", 1)
    if best_of not in (None, 1):
        raise bad_request("Only best_of=1 is supported", "best_of")
    prompt = data.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise bad_request("'prompt' must be a string (one prompt per request)", "prompt")
    stream = _boolean(data, "stream")
    options = data.get("stream_options")
    include_usage = bool(isinstance(options, dict) and _boolean(options, "include_usage"))
    max_tokens = _integer(data, "max_tokens", 1)
    sampling = _sampling(data, (16 if max_tokens is None else max_tokens,), 2.0,  # OpenAI's default: 16
                         _stops(data.get("stop"), "stop"))
    return GenerationRequest(model, (), prompt, sampling, stream, include_usage)


# ---------------------------------------------------------------- Anthropic


def _anthropic_text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for block in content:
            if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
                kind = block.get("type") if isinstance(block, dict) else type(block).__name__
                raise bad_request(f"{where}: only text blocks are supported, not {kind!r}")
            texts.append(block["text"])
        return "".join(texts)
    raise bad_request(f"{where} must be a string or a list of text blocks")


def _anthropic_message(role: str, content: Any, where: str) -> list[ChatMessage]:
    """One Anthropic message as chat messages: tool_use blocks become the assistant's tool calls,
    tool_result blocks become tool messages (in their order, before any text of the same turn)."""
    if isinstance(content, str):
        return [ChatMessage(role, content)]
    if not isinstance(content, list):
        raise bad_request(f"{where} must be a string or a list of content blocks")
    texts: list[str | MediaPart] = []
    calls: list[ToolCall] = []
    results: list[ChatMessage] = []
    for j, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind == "image" and role == "user" and isinstance(block, dict):
            texts.append(media_parts.anthropic_image(block, f"{where}.{j}"))
        elif kind in ("thinking", "redacted_thinking") and role == "assistant":
            continue  # earlier reasoning sent back: templates keep only the answers of past turns
        elif kind == "tool_use" and role == "assistant" and isinstance(block, dict):
            if not isinstance(block.get("name"), str) or not isinstance(block.get("id"), str):
                raise bad_request(f"{where}.{j}: a tool_use block needs an id and a name")
            calls.append(ToolCall(block["id"], block["name"], json.dumps(block.get("input") or {},
                                                                         ensure_ascii=False)))
        elif kind == "tool_result" and role == "user" and isinstance(block, dict):
            if not isinstance(block.get("tool_use_id"), str):
                raise bad_request(f"{where}.{j}: a tool_result block needs its tool_use_id")
            inner = block.get("content", "")
            text = _anthropic_text(inner, f"{where}.{j}.content") if inner else ""
            if block.get("is_error"):
                text = f"Error: {text}"
            results.append(ChatMessage("tool", text, tool_call_id=block["tool_use_id"]))
        else:
            name = kind if kind is not None else type(block).__name__
            raise bad_request(f"{where}.{j}: {role} messages may hold text, tool_use and tool_result blocks, "
                              f"not {name!r}")
    text, media = compose(texts) if any(isinstance(t, MediaPart) for t in texts) else ("".join(map(str, texts)), ())
    if role == "assistant":
        return [ChatMessage(role, text, tool_calls=tuple(calls))]
    return results + ([ChatMessage(role, text, media=media)] if text or not results else [])


def _anthropic_tools(data: dict[str, Any]) -> tuple[tuple[Tool, ...], ToolChoice, str | None]:
    raw = data.get("tools")
    tools: list[Tool] = []
    if raw is not None:
        if not isinstance(raw, list) or len(raw) > MAX_TOOLS:
            raise bad_request(f"'tools' must be a list of at most {MAX_TOOLS} tools")
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise bad_request(f"tools.{i} must be an object with a name and an input_schema")
            if item.get("type") not in (None, "custom"):
                raise bad_request(f"tools.{i}: server tools ({item.get('type')!r}) are not available here")
            tools.append(_tool(item.get("name"), item.get("description"), item.get("input_schema"), f"tools.{i}"))
    choice = data.get("tool_choice")
    kind = choice.get("type") if isinstance(choice, dict) else "auto" if choice is None else None
    mapped = {"auto": "auto", "any": "required", "tool": "function", "none": "none"}.get(kind)  # type: ignore[arg-type]
    if mapped is None:
        raise bad_request("'tool_choice.type' must be auto, any, tool or none")
    if not tools and mapped == "auto":
        mapped = "none"
    name = choice.get("name") if isinstance(choice, dict) else None
    chosen, tool_name = _checked_choice(mapped, name, tuple(tools), "tool_choice")
    return tuple(tools), chosen, tool_name


def parse_messages(data: dict[str, Any]) -> GenerationRequest:
    model = _model(data)
    # "thinking" enabled: the reasoning a model writes (<think>…) comes back as thinking blocks; its budget
    # is not enforced apart from max_tokens
    thinking = data.get("thinking")
    thinking_on = isinstance(thinking, dict) and thinking.get("type") == "enabled"
    tools, choice, tool_name = _anthropic_tools(data)
    max_tokens = _integer(data, "max_tokens", 1)
    if max_tokens is None:
        raise bad_request("'max_tokens' is required")
    raw = data.get("messages")
    if not isinstance(raw, list) or not raw:
        raise bad_request("'messages' must be a non-empty list")
    messages: list[ChatMessage] = []
    system = data.get("system")
    if system is not None:
        text = _anthropic_text(system, "system")
        if text:
            messages.append(ChatMessage("system", text))
    for i, message in enumerate(raw):
        where = f"messages.{i}"
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise bad_request(f"{where}.role must be user or assistant")
        messages.extend(_anthropic_message(message["role"], message.get("content"), f"{where}.content"))
    sampling = _sampling(data, (max_tokens,), 1.0, _stops(data.get("stop_sequences"), "stop_sequences"))
    return GenerationRequest(model, tuple(_named_tool_messages(messages)), None, sampling, _boolean(data, "stream"),
                             False, tools, choice, tool_name, thinking_on)


__all__ = ["ApiError", "GenerationRequest", "parse_chat", "parse_completion", "parse_json", "parse_messages"]
