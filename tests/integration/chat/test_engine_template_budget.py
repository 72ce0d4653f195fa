"""A GGUF whose chat template would spin forever or allocate gigabytes: the engine process answers with a
TemplateError naming the budget (within the render deadline, so a waiting Stop is bounded by it) and keeps
serving with a built-in template."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.chat import protocol as p
from app.chat.client import EngineClient
from app.core.errors import TemplateError
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf

SETTINGS = p.EngineSettings(n_ctx=256, n_threads=2, n_batch=64)
MESSAGES = (p.ChatMessage("user", "hello world"),)
TEMPLATES = {
    "spin": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "allocate": "{{ 'a' * 1000000000 }}",
    "power": "{{ 9 ** 999999999 }}",
}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("budget")
    return {
        name: write_tiny_gguf(root / f"{name}.gguf", TinySpec(chat_template=source, n_vocab=600))
        for name, source in TEMPLATES.items()
    }


def test_hostile_gguf_templates_are_refused_and_the_engine_keeps_serving(models: dict[str, Path]) -> None:
    greedy = p.Sampling(temperature=0, max_tokens=4)
    with EngineClient() as client:
        for name, budget in (("spin", "time"), ("allocate", "string size"), ("power", "number size")):
            client.load(str(models[name]), SETTINGS)
            with pytest.raises(TemplateError, match=f"over its {budget} budget"):
                client.generate(MESSAGES, sampling=greedy)
            assert client.generate(MESSAGES, template="chatml", sampling=greedy).stats.prompt_tokens > 0
