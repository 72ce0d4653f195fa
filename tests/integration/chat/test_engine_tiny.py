"""Generated tiny llama models that carry a chat template in their GGUF: the template is read from the
file, rendered in the sandbox, tokenized with BOS handled like llama.cpp, and served by the engine process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.chat import prompting
from app.chat import protocol as p
from app.chat.client import EngineClient
from app.chat.engine_core import Engine
from app.core.errors import TemplateError
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf

# Writes BOS itself, like Llama 2 / Mistral templates: the tokenizer must not add a second one.
TEMPLATE_WITH_BOS = (
    "{{ bos_token }}{% for m in messages %}"
    "{% if m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]{% else %} {{ m['content'] }} {{ eos_token }}"
    "{% endif %}{% endfor %}"
)
# No BOS in the text (ChatML-like): the tokenizer adds it.
TEMPLATE_NO_BOS = (
    "{% for m in messages %}<{{ m['role'] }}>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<assistant>\n{% endif %}"
)
HOSTILE = "{{ cycler.__init__.__globals__.os.system('touch /tmp/pwned-by-template') }}"
SETTINGS = p.EngineSettings(n_ctx=256, n_threads=2, n_batch=64)
MESSAGES = (p.ChatMessage("user", "hello world"), p.ChatMessage("assistant", "the model"),
            p.ChatMessage("user", "what time"))


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-chat")
    return {
        name: write_tiny_gguf(root / f"{name}.gguf", TinySpec(chat_template=template, n_vocab=600))
        for name, template in (("bos", TEMPLATE_WITH_BOS), ("nobos", TEMPLATE_NO_BOS), ("hostile", HOSTILE))
    }


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    eng = Engine()
    yield eng
    eng.close()


@pytest.mark.parametrize(("name", "expected"), [
    ("bos", "<s>[INST] hello world [/INST] the model </s>[INST] what time [/INST]"),
    ("nobos", "<user>\nhello world\n<assistant>\nthe model\n<user>\nwhat time\n<assistant>\n"),
])
def test_gguf_template_tokens_match_reference(engine: Engine, tiny_models: dict[str, Path], name: str,
                                              expected: str) -> None:
    info = engine.load(str(tiny_models[name]), SETTINGS)
    assert info.chat_template is not None and info.bos_text == "<s>"
    prompt = prompting.build(p.Generate(1, MESSAGES), info, lambda t, add: engine.tokenize(t, add_special=add))
    (bos,) = engine.tokenize("", add_special=True)
    text_without_bos = expected.removeprefix("<s>")
    reference = [bos, *engine.tokenize(text_without_bos, add_special=False)]
    assert prompt.tokens == reference
    assert prompt.tokens.count(bos) == 1


def test_hostile_template_in_a_gguf_is_refused(engine: Engine, tiny_models: dict[str, Path]) -> None:
    info = engine.load(str(tiny_models["hostile"]), SETTINGS)
    with pytest.raises(TemplateError):
        prompting.build(p.Generate(1, MESSAGES), info, lambda t, add: engine.tokenize(t, add_special=add))
    assert not Path("/tmp/pwned-by-template").exists()


def test_engine_process_serves_a_tiny_model(tiny_models: dict[str, Path]) -> None:
    with EngineClient() as client:
        client.load(str(tiny_models["nobos"]), SETTINGS)
        greedy = p.Sampling(temperature=0, max_tokens=6)
        first = client.generate(MESSAGES, sampling=greedy)
        assert first.stats.prompt_evaluated == first.stats.prompt_tokens
        again = client.generate(MESSAGES, sampling=greedy)
        assert again.text == first.text and again.stats.prompt_evaluated == 1
        longer = (*MESSAGES, p.ChatMessage("assistant", first.text), p.ChatMessage("user", "how many"))
        third = client.generate(longer, sampling=greedy)
        assert third.stats.prompt_evaluated < third.stats.prompt_tokens - len(MESSAGES)
        # The hostile one fails as a TemplateError and the engine keeps serving.
        client.load(str(tiny_models["hostile"]), SETTINGS)
        with pytest.raises(TemplateError):
            client.generate(MESSAGES, sampling=greedy)
        assert client.generate(MESSAGES, template="chatml", sampling=greedy).stats.prompt_tokens > 0
