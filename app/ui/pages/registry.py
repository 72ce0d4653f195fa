"""The pages of the sidebar, in order: where each page's class lives, its title and what it is for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PageSpec:
    name: str
    title: str
    module: str
    class_name: str
    blurb: str


PAGES: tuple[PageSpec, ...] = (
    PageSpec(
        "discover",
        "Discover",
        "app.ui.pages.discover",
        "DiscoverPage",
        "Search the Hugging Face Hub for GGUF models and see which quant fits this machine.",
    ),
    PageSpec(
        "downloads",
        "Downloads",
        "app.ui.pages.downloads",
        "DownloadsPage",
        "A download queue that resumes after restarts and verifies every file.",
    ),
    PageSpec(
        "library",
        "Library",
        "app.ui.pages.library",
        "LibraryPage",
        "Your local models, with details read from their GGUF headers.",
    ),
    PageSpec(
        "quantize",
        "Quantize",
        "app.ui.pages.quantize",
        "QuantizePage",
        "Turn a Hugging Face model into any GGUF quant, importance matrix included.",
    ),
    PageSpec(
        "chat",
        "Chat",
        "app.ui.pages.chat",
        "ChatPage",
        "Chat with a local model through llama.cpp, with live memory estimates.",
    ),
    PageSpec(
        "server",
        "Server",
        "app.ui.pages.server",
        "ServerPage",
        "Serve your library over OpenAI- and Anthropic-compatible APIs; lend this machine as an RPC worker.",
    ),
    PageSpec(
        "settings",
        "Settings",
        "app.ui.pages.settings",
        "SettingsPage",
        "Models folder, threads, theme and your Hugging Face account.",
    ),
)


def page_spec(name: str) -> PageSpec:
    for spec in PAGES:
        if spec.name == name:
            return spec
    raise KeyError(f"no page named {name!r}; pages: {', '.join(p.name for p in PAGES)}")
