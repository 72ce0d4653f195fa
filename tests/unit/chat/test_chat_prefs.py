from __future__ import annotations

from pathlib import Path

from app.chat.prefs import ChatPrefs, load_prefs, sampling_for, save_prefs
from app.chat.protocol import EngineSettings


def test_round_trip(isolated_home: Path) -> None:
    assert load_prefs() == ChatPrefs()
    prefs = ChatPrefs(model_path="/m.gguf", engine=EngineSettings(n_ctx=2048, type_k="q8_0"), preset="Precise",
                      template="chatml", context_policy="stop", seed=4)
    save_prefs(prefs)
    assert load_prefs() == prefs
    assert not list((isolated_home / "config").glob("*.part"))


def test_unreadable_or_foreign_fields_fall_back(isolated_home: Path) -> None:
    (isolated_home / "config").mkdir(parents=True, exist_ok=True)
    (isolated_home / "config" / "chat.json").write_text('{"preset": "Greedy", "future": 1, "engine": {"x": 2}}')
    assert load_prefs() == ChatPrefs(preset="Greedy")
    (isolated_home / "config" / "chat.json").write_text("{not json")
    assert load_prefs() == ChatPrefs()


def test_sampling_presets() -> None:
    assert sampling_for("Greedy", 10).temperature == 0 and sampling_for("Greedy", 10).max_tokens == 10
    assert sampling_for("nonsense", 5, seed=2) == sampling_for("Balanced", 5, seed=2)


def test_each_model_keeps_its_own_load_settings(isolated_home: Path) -> None:
    from app.chat.prefs import MODELS_KEPT, remember, remembered_settings

    small, large = EngineSettings(n_ctx=1536), EngineSettings(n_ctx=8192, n_gpu_layers=-1)
    prefs = remember(remember(ChatPrefs(), "/a.gguf", small), "/b.gguf", large)
    save_prefs(prefs)
    again = load_prefs()
    assert remembered_settings(again, "/a.gguf") == small and remembered_settings(again, "/b.gguf") == large
    assert again.model_path == "/b.gguf" and remembered_settings(again, "/c.gguf") is None
    # A file from before per-model memory: its one model keeps the settings it had.
    old = ChatPrefs(model_path="/a.gguf", engine=small)
    assert remembered_settings(old, "/a.gguf") == small
    for n in range(MODELS_KEPT + 5):
        prefs = remember(prefs, f"/m{n}.gguf", small)
    assert len(prefs.models) == MODELS_KEPT and f"/m{MODELS_KEPT + 4}.gguf" in prefs.models
