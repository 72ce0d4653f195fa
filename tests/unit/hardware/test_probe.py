from __future__ import annotations

from pathlib import Path

import pytest

from app.hardware import probe
from app.hardware.info import GpuInfo, HardwareInfo, LlamaBackend


def _meminfo_total() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal")


@pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="needs /proc/meminfo")
def test_ram_matches_proc_meminfo() -> None:
    info = probe.probe_hardware(include_llama=False)
    assert abs(info.ram_total - _meminfo_total()) <= 0.01 * _meminfo_total()
    assert 0 < info.ram_available <= info.ram_total


def test_no_nvml_is_an_answer_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import pynvml

    def no_library() -> None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(pynvml, "nvmlInit", no_library)
    gpus, note = probe.probe_nvidia()
    assert gpus == ()
    assert "NVIDIA" in note


def test_llama_backend_is_detected() -> None:
    backend, note = probe.probe_llama()
    assert note == ""
    assert backend is not None
    assert backend.version == "0.3.36"
    assert "cpu" in backend.backends
    assert "CPU" in backend.system_info


def test_backend_libraries_from_names(tmp_path: Path) -> None:
    for name in ("libggml-base.so", "libggml-cpu.so", "libggml-cuda.so", "libllama.so", "ggml-vulkan.dll"):
        (tmp_path / name).touch()
    assert probe.llama_backend_libraries(tmp_path) == ("cpu", "cuda", "vulkan")
    assert probe.llama_backend_libraries(tmp_path / "missing") == ()


def _info(gpus: tuple[GpuInfo, ...], offload: bool) -> HardwareInfo:
    return HardwareInfo(
        ram_total=16 << 30, ram_available=8 << 30, cpu_name="cpu", cpu_physical_cores=4, cpu_logical_cores=8,
        os="Linux", machine="x86_64", gpus=gpus,
        llama=LlamaBackend(version="0.3.36", gpu_offload=offload, backends=("cpu",), system_info=""),
    )


def test_offload_needs_a_gpu_and_a_gpu_build() -> None:
    gpu = GpuInfo(index=0, name="RTX 4060", vram_total=8 << 30, vram_free=7 << 30)
    assert _info((gpu,), offload=True).can_offload
    assert not _info((gpu,), offload=False).can_offload
    assert not _info((), offload=True).can_offload
    assert _info((gpu, gpu), offload=True).vram_total == 16 << 30


def test_unified_memory_is_not_counted_as_vram() -> None:
    apple = GpuInfo(index=0, name="Apple M2 GPU", vram_total=16 << 30, vram_free=9 << 30, api="metal",
                    unified_memory=True)
    info = _info((apple,), offload=True)
    assert info.unified_memory
    assert info.vram_total == 0
    assert "unified" in probe.summary(info)


def test_summary_on_this_machine() -> None:
    text = probe.summary(probe.probe_hardware())
    assert text.startswith("RAM ")
    assert "llama.cpp" in text


def test_an_rpc_only_build_is_not_local_gpu_offload() -> None:
    from app.hardware.probe import local_gpu_offload

    assert not local_gpu_offload(True, ("cpu", "rpc"))
    assert local_gpu_offload(True, ("cpu", "cuda", "rpc"))
    assert not local_gpu_offload(False, ("cpu", "cuda"))


def test_the_rpc_build_reports_no_local_gpu_offload() -> None:
    """`make test` builds llama.cpp with RPC and, without CMAKE_ARGS for a GPU, no GPU backend."""
    from app.hardware.probe import probe_llama

    backend, problem = probe_llama()
    assert backend is not None, problem
    assert "rpc" in backend.backends
    if set(backend.backends) <= {"cpu", "rpc", "blas"}:
        assert not backend.gpu_offload
    else:
        assert backend.gpu_offload
