"""The engine's multimodal projector: llama.cpp's mtmd (libmtmd through llama-cpp-python's mtmd_cpp bindings).

A prompt with media becomes mtmd chunks: runs of text tokens and image/audio chunks. The engine's cache is a
list with one entry per position; an image's positions are entered as negative ids derived from the image's
bytes, so the usual common-prefix reuse keeps an image already evaluated and evaluates only the text after it.
A prefix that ends inside an image goes back to the image's start (an image is evaluated whole).
"""

from __future__ import annotations

import ctypes
import logging
from dataclasses import dataclass, field
from typing import Any

from app.chat.media import MEDIA_MARKER, digest, prepare_image
from app.chat.projector import projector_info
from app.chat.protocol import MediaPart
from app.core.errors import EngineError, MediaError

log = logging.getLogger("app.chat.mtmd")

_TEXT = 0  # MTMD_INPUT_CHUNK_TYPE_TEXT
_ID_SPAN = 1 << 20  # positions one media chunk may take; ids of different media never meet


def _mtmd() -> Any:
    from llama_cpp import mtmd_cpp

    return mtmd_cpp


@dataclass(slots=True)
class Segment:
    begin: int  # first position
    end: int  # one past the last position
    chunk: Any = None  # None: text (the units are token ids); else the mtmd chunk of an image or audio clip


@dataclass(slots=True)
class MediaPrompt:
    """A tokenized prompt with media: `units` has one entry per position (token ids, negative ids for media)."""

    units: list[int]
    segments: list[Segment]
    media_tokens: int
    _chunks: Any = field(default=None, repr=False)

    def resume_at(self, keep: int) -> int:
        """The position evaluation restarts from when `keep` positions are cached: never inside a media chunk."""
        for segment in self.segments:
            if segment.chunk is not None and segment.begin < keep < segment.end:
                return segment.begin
        return keep

    def close(self) -> None:
        if self._chunks is not None:
            _mtmd().mtmd_input_chunks_free(self._chunks)
            self._chunks = None

    def __del__(self) -> None:  # a prompt dropped by an error on its way to the engine
        self.close()


class Projector:
    """One mtmd context for the loaded model; not thread-safe (the engine's thread uses it)."""

    def __init__(self, path: str, model: Any, n_embd_text: int, *, n_threads: int, use_gpu: bool,
                 flash_attn: int = -1) -> None:
        self.info = projector_info(path)
        if self.info.embedding_size and n_embd_text and self.info.embedding_size != n_embd_text:
            raise EngineError(
                f"The projector {path.rsplit('/', 1)[-1]} makes embeddings of {self.info.embedding_size} values, "
                f"the model takes {n_embd_text}: it was made for another model",
                hint="choose the mmproj file from the same repository as the model",
            )
        M = self.M = _mtmd()
        params = M.mtmd_context_params_default()
        params.use_gpu = use_gpu
        params.n_threads = n_threads
        params.print_timings = False
        params.flash_attn_type = flash_attn  # the model's setting (-1 auto, 0 off, 1 on): app.estimate.projector
        self._marker = MEDIA_MARKER.encode()  # kept alive: mtmd keeps the pointer
        params.media_marker = self._marker
        ctx = M.mtmd_init_from_file(path.encode(), model, params)
        if not ctx:
            raise EngineError(f"llama.cpp could not load the projector {path.rsplit('/', 1)[-1]}",
                              hint="see the log; the file may be damaged or of a newer format")
        self.ctx = ctx
        self.vision = bool(M.mtmd_support_vision(ctx))
        self.audio = bool(M.mtmd_support_audio(ctx))

    def free(self) -> None:
        if self.ctx:
            self.M.mtmd_free(self.ctx)
            self.ctx = None

    # ------------------------------------------------------------------ tokenize

    def _bitmap(self, part: MediaPart) -> Any:
        M = self.M
        if part.kind == "image":
            if not self.vision:
                raise MediaError("This model's projector takes no images", hint="send audio or text only")
            image = prepare_image(part.data)
            if image.downscaled:
                log.info("image scaled down from %dx%d to %dx%d", *image.original_size, image.width, image.height)
            pixels = (ctypes.c_uint8 * len(image.rgb)).from_buffer_copy(image.rgb)
            bitmap = M.mtmd_bitmap_init(image.width, image.height, pixels)
        else:
            if not self.audio:
                raise MediaError("This model's projector takes no audio", hint="send images or text only")
            data = (ctypes.c_uint8 * len(part.data)).from_buffer_copy(part.data)
            bitmap = M.mtmd_helper_bitmap_init_from_buf(self.ctx, data, len(part.data), False)
            if bitmap and not M.mtmd_bitmap_is_audio(bitmap):
                M.mtmd_bitmap_free(bitmap)
                raise MediaError("The audio part is not a sound file", hint="send WAV, MP3 or FLAC audio")
        if not bitmap:
            raise MediaError(f"The {part.kind} cannot be read", hint="send WAV, MP3 or FLAC audio"
                             if part.kind == "audio" else "attach a PNG, JPEG or WebP file")
        return bitmap

    def tokenize(self, text: str, add_special: bool, parts: list[MediaPart], n_batch: int) -> MediaPrompt:
        """Chunks of `text` whose markers stand for `parts` in order."""
        M = self.M
        if text.count(MEDIA_MARKER) != len(parts):
            raise MediaError(f"The prompt places {text.count(MEDIA_MARKER)} media parts but {len(parts)} were sent")
        bitmaps = []
        try:
            for part in parts:
                bitmaps.append(self._bitmap(part))
            data = text.encode("utf-8")
            source = M.mtmd_input_text(data, len(data), add_special, True)
            array = (M.mtmd_bitmap_p_ctypes * max(1, len(bitmaps)))(*bitmaps)
            chunks = M.mtmd_input_chunks_init()
            rc = M.mtmd_tokenize(self.ctx, chunks, ctypes.byref(source), array, len(bitmaps))
        finally:
            for bitmap in bitmaps:
                M.mtmd_bitmap_free(bitmap)
        prompt = MediaPrompt([], [], 0, chunks)
        if rc != 0:
            prompt.close()
            raise MediaError(f"llama.cpp could not prepare the media (mtmd_tokenize returned {rc})",
                             hint="see the log for details")
        try:
            self._layout(prompt, parts, n_batch)
        except BaseException:
            prompt.close()
            raise
        return prompt

    def _layout(self, prompt: MediaPrompt, parts: list[MediaPart], n_batch: int) -> None:
        M = self.M
        media = iter(parts)
        count = ctypes.c_size_t()
        for i in range(M.mtmd_input_chunks_size(prompt._chunks)):
            chunk = M.mtmd_input_chunks_get(prompt._chunks, i)
            begin = len(prompt.units)
            if M.mtmd_input_chunk_get_type(chunk) == _TEXT:
                tokens = M.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(count))
                prompt.units.extend(tokens[: count.value])
                prompt.segments.append(Segment(begin, len(prompt.units)))
                continue
            n_tokens = int(M.mtmd_input_chunk_get_n_tokens(chunk))
            n_pos = int(M.mtmd_input_chunk_get_n_pos(chunk))
            if n_tokens > n_batch and M.mtmd_decode_use_non_causal(self.ctx, chunk):  # one ubatch sees it whole
                raise MediaError(f"An image takes {n_tokens} tokens, more than the batch size ({n_batch})",
                                 hint=f"load the model with a batch size of at least {n_tokens}")
            part = next(media)
            base = -(1 << 62) + (int.from_bytes(digest(part)[:5], "big") * _ID_SPAN)
            prompt.units.extend(base + j for j in range(n_pos))
            prompt.segments.append(Segment(begin, len(prompt.units), chunk))
            prompt.media_tokens += n_pos

    # ------------------------------------------------------------------ evaluate

    def evaluate(self, engine: Any, prompt: MediaPrompt, keep: int, seq: int) -> bool:
        """Evaluates prompt.units[keep:] (text through the engine, media through mtmd); False if stopped."""
        L, M = engine.L, self.M
        start = prompt.resume_at(keep)
        if start < len(engine._cached):
            mem = L.llama_get_memory(engine._ctx)
            if start == 0 or not L.llama_memory_seq_rm(mem, seq, start, -1):
                L.llama_memory_clear(mem, True)
                start = 0
            del engine._cached[start:]
        last = len(prompt.units)
        for segment in prompt.segments:
            if segment.end <= start:
                continue
            if segment.chunk is None:
                if not engine._evaluate(prompt.units[: segment.end], max(start, segment.begin)):
                    return False
                continue
            if engine.stop_event.is_set():
                return False
            new_past = L.llama_pos(0)
            rc = M.mtmd_helper_eval_chunk_single(self.ctx, engine._ctx, segment.chunk, segment.begin, seq,
                                                 engine._n_batch, segment.end == last, ctypes.byref(new_past))
            if rc != 0:
                raise EngineError(f"llama.cpp could not evaluate the media ({rc}): {engine._why()}")
            engine._cached.extend(prompt.units[segment.begin : segment.end])
        return True


class MediaTokenizer:
    """prompting.build's tokenizer for a conversation with media: text goes through mtmd with the parts whose
    markers it holds (the last ones: dropped turns are the oldest). `prompt` is the last call's MediaPrompt."""

    def __init__(self, projector: Projector | None, parts: list[MediaPart], n_batch: int) -> None:
        if projector is None:
            raise MediaError("This model was loaded without a projector: it cannot take images or audio",
                             hint="load it with its mmproj file (a vision model), or remove the attachments")
        self._projector = projector
        self._parts = parts
        self._n_batch = n_batch
        self.prompt: MediaPrompt | None = None

    def __call__(self, text: str, add_special: bool) -> list[int]:
        self.close()
        count = text.count(MEDIA_MARKER)
        parts = self._parts[len(self._parts) - count :] if count else []
        self.prompt = self._projector.tokenize(text, add_special, parts, self._n_batch)
        return self.prompt.units

    def close(self) -> None:
        if self.prompt is not None:
            self.prompt.close()
            self.prompt = None


def tokenizer_for(engine: Any, messages: Any) -> MediaTokenizer | None:
    """The tokenizer a Generate request needs: None when its messages hold no media."""
    from app.chat.media import media_of

    parts = media_of(messages)
    if not parts:
        return None
    return MediaTokenizer(engine.projector, parts, engine.settings.n_batch if engine.settings else 512)


__all__ = ["MediaPrompt", "MediaTokenizer", "Projector", "Segment", "tokenizer_for"]
