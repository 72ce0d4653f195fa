from __future__ import annotations

from app.process.outcome import describe, native_error


def test_ggml_abort_line_is_reworded() -> None:
    line = "/tmp/build/vendor/llama.cpp/src/llama-vocab.cpp:2544: GGML_ASSERT(id_to_token.size() == n) failed"
    assert native_error(line) == "GGML_ASSERT(id_to_token.size() == n) failed (llama-vocab.cpp:2544)"
    assert native_error("C:\\src\\ggml-cpu.c:12: fatal error") == "fatal error (ggml-cpu.c:12)"
    assert native_error("llama_model_load: error loading model") is None
    assert native_error("load_tensors: CPU model buffer size = 12.00 MiB") is None


def test_sentences() -> None:
    killed = describe("the chat engine", -9)
    assert (killed.signal, killed.sentence) == ("SIGKILL", "The chat engine was killed (SIGKILL)")
    assert "memory" in killed.hint and not killed.clean
    assert describe("the quantize job", 3).sentence == "The quantize job exited unexpectedly (exit code 3)"
    assert describe("the quantize job", 1, last_lines=("Traceback", "MemoryError")).sentence.endswith(": MemoryError")
    assert "stopped answering" in describe("the chat engine", None).sentence
    assert describe("the chat engine", -11).sentence == "The chat engine crashed (SIGSEGV)"
    stopped = describe("the chat engine", -15, stopped=True)
    assert stopped.clean and stopped.sentence == "The chat engine was stopped"
    aborted = describe("the chat engine", -6, native_errors=("GGML_ASSERT(x) failed (a.cpp:1)",),
                       activity="while loading the model")
    assert aborted.signal == "SIGABRT"
    assert aborted.sentence == "llama.cpp stopped while loading the model: GGML_ASSERT(x) failed (a.cpp:1)"
