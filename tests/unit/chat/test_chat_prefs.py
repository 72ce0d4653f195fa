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
