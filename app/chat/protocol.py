"""Messages between the app and the engine process: small frozen dataclasses sent over a pipe.

Requests go app → engine, events come engine → app. Every value here must pickle cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.core.errors import AppError

FlashAttn = Literal["auto", "on", "off"]
ContextPolicy = Literal["stop", "drop_oldest"]
Pooling = Literal["model", "mean", "cls", "last"]
FinishReason = Literal["eog", "length", "stop_string", "stopped", "context_full"]

CACHE_TYPES: tuple[str, ...] = ("f16", "bf16", "f32", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0", "iq4_nl")


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """How a model is loaded: everything that needs a reload when it changes."""

    n_ctx: int = 4096
    n_gpu_layers: int = 0
    type_k: str = "f16"
    type_v: str = "f16"
    flash_attn: FlashAttn = "auto"
    n_threads: int = 0  # 0: let the engine pick (physical cores)
    n_batch: int = 512
    swa_full: bool = False
    use_mmap: bool = True
    n_cpu_moe: int = 0  # the expert tensors of the first N layers stay in RAM (llama.cpp's --n-cpu-moe)
    embeddings: bool = False  # an embeddings context (pooled vectors, Embed requests) instead of a chat one
    pooling: Pooling = "model"  # with embeddings: how token vectors become one ("model": the GGUF's own)
    # llama.cpp RPC workers ("host:port") whose devices join the pool, first in device order; each is probed
    # before llama.cpp hears of it (app.remote.pool), and layers are split by every device's free memory.
    rpc_workers: tuple[str, ...] = ()
    # the CPU backend's repacked weight layouts (llama.cpp's --repack/--no-repack); RPC workers never repack,
    # so a pool's greedy output equals a local run's only without them
    repack: bool = True
    # requests decoded together, each on its own llama.cpp sequence with n_ctx tokens (the server's --parallel)
    n_parallel: int = 1
    # the multimodal projector (an mmproj GGUF) loaded beside the model for images and audio; "" for none
    # (app.chat.projector.projector_for finds the one beside a model)
    mmproj: str = ""


@dataclass(frozen=True, slots=True)
class Sampling:
    """Per-request sampling; temperature 0 means greedy."""

    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    repeat_last_n: int = 64
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    seed: int | None = None
    max_tokens: int = 1024
    stop: tuple[str, ...] = ()
    # GBNF the reply must match (llama.cpp's grammar sampler): JSON output, forced tool calls.
    grammar: str | None = None
    # Control tokens the model generates appear in the text (tool-call markers of Mistral, gpt-oss...);
    # end-of-generation tokens still end the reply and never appear.
    special_text: bool = False


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call of an assistant message; `arguments` is the JSON text of its arguments."""

    id: str
    name: str
    arguments: str


MediaKind = Literal["image", "audio"]


@dataclass(frozen=True, slots=True)
class MediaPart:
    """An image or audio clip of a message, as the file's bytes (PNG, JPEG, WebP...; WAV, MP3, FLAC)."""

    kind: MediaKind
    data: bytes
    mime: str = ""
    name: str = ""


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant" | "tool"
    content: str  # with media: app.chat.media.MEDIA_MARKER where each part goes (missing ones go first)
    tool_calls: tuple[ToolCall, ...] = ()  # assistant messages that called tools
    tool_call_id: str | None = None  # tool messages: the call they answer
    name: str | None = None  # tool messages: the function that answered
    reasoning: str | None = None  # assistant messages: thinking text kept apart from the content
    media: tuple[MediaPart, ...] = ()  # images and audio, in the order of their markers in `content`


# ---------------------------------------------------------------- requests (app -> engine)


@dataclass(frozen=True, slots=True)
class Load:
    path: str
    settings: EngineSettings = EngineSettings()


@dataclass(frozen=True, slots=True)
class Generate:
    """Either `messages` rendered with `template` ("auto" = the GGUF's own, a built-in name, or "raw"),
    or a ready `prompt` string (completion mode, no template)."""

    request_id: int
    messages: tuple[ChatMessage, ...] = ()
    prompt: str | None = None
    template: str = "auto"
    sampling: Sampling = Sampling()
    context_policy: ContextPolicy = "stop"
    tools: str | None = None  # JSON list of tool definitions (OpenAI format), given to the chat template


@dataclass(frozen=True, slots=True)
class Embed:
    """Embeddings of `texts` (the engine must be loaded with EngineSettings.embeddings)."""

    request_id: int
    texts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Stop:
    """Ends the running load or generation (whichever is in progress)."""

    request_id: int | None = None  # with several sequences (n_parallel > 1): only this request


@dataclass(frozen=True, slots=True)
class Unload:
    pass


@dataclass(frozen=True, slots=True)
class Shutdown:
    pass


Request = Load | Generate | Embed | Stop | Unload | Shutdown


# ---------------------------------------------------------------- events (engine -> app)


@dataclass(frozen=True, slots=True)
class Ready:
    """The engine process is up (llama.cpp imported)."""

    llama_version: str
    system_info: str


@dataclass(frozen=True, slots=True)
class LoadProgress:
    fraction: float


@dataclass(frozen=True, slots=True)
class ModelInfo:
    path: str
    description: str
    n_ctx: int  # the context actually allocated
    n_ctx_train: int
    n_layer: int
    n_vocab: int
    n_swa: int
    chat_template: str | None
    bos_text: str
    eos_text: str
    add_bos: bool
    load_seconds: float
    vision: bool = False  # a projector that takes images is loaded
    audio: bool = False  # a projector that takes audio is loaded


@dataclass(frozen=True, slots=True)
class Loaded:
    info: ModelInfo


@dataclass(frozen=True, slots=True)
class Unloaded:
    pass


@dataclass(frozen=True, slots=True)
class Token:
    """New text of a reply: one token's piece or several (the engine batches them ~30 ms apart)."""

    request_id: int
    text: str
    # Where the reply stands (0 when unknown, e.g. a remote stream): tokens generated so far and the
    # context they and the prompt fill, so the app's meter moves while the reply streams.
    generated: int = 0
    context_used: int = 0


@dataclass(frozen=True, slots=True)
class Stats:
    prompt_tokens: int  # tokens of the whole prompt
    prompt_evaluated: int  # of which were evaluated this turn (the rest came from the KV cache)
    prompt_seconds: float
    generated_tokens: int
    generation_seconds: float
    ttft_seconds: float  # request received -> first token ready
    context_used: int
    context_size: int
    dropped_messages: int = 0
    media_tokens: int = 0  # of prompt_tokens, the positions images and audio took (as mtmd counts them)
    sequence: int = -1  # the llama.cpp sequence a batched engine ran the request on (-1: one sequence only)

    @property
    def prompt_tokens_per_second(self) -> float:
        return self.prompt_evaluated / self.prompt_seconds if self.prompt_seconds > 0 else 0.0

    @property
    def tokens_per_second(self) -> float:
        # The first token comes from prompt evaluation; the rate covers the tokens decoded after it.
        n = self.generated_tokens - 1
        return n / self.generation_seconds if n > 0 and self.generation_seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Done:
    request_id: int
    text: str
    finish_reason: FinishReason
    stats: Stats


@dataclass(frozen=True, slots=True)
class Embedded:
    """One L2-normalised vector per text of an Embed request, and the tokens they took."""

    request_id: int
    vectors: tuple[tuple[float, ...], ...]
    prompt_tokens: int


@dataclass(frozen=True, slots=True)
class Error:
    """A failure the engine survived (bad request, load failure, template error, a cancelled load...).
    The error itself crosses the pipe (AppErrors pickle with their fields) and is raised as it is."""

    error: AppError
    request_id: int | None = None

    @property
    def message(self) -> str:
        return str(self.error)


@dataclass(frozen=True, slots=True)
class Crashed:
    """Made on the app side when the engine process dies (never sent by the engine)."""

    message: str
    exitcode: int | None = None
    hint: str = ""


Event = Ready | LoadProgress | Loaded | Unloaded | Token | Done | Embedded | Error | Crashed

__all__ = [
    "CACHE_TYPES",
    "ChatMessage",
    "ContextPolicy",
    "Crashed",
    "Done",
    "Embed",
    "Embedded",
    "EngineSettings",
    "Error",
    "Event",
    "FinishReason",
    "FlashAttn",
    "Generate",
    "Load",
    "LoadProgress",
    "Loaded",
    "MediaKind",
    "MediaPart",
    "ModelInfo",
    "Pooling",
    "Ready",
    "Request",
    "Sampling",
    "Shutdown",
    "Stats",
    "Stop",
    "Token",
    "ToolCall",
    "Unload",
    "Unloaded",
]
