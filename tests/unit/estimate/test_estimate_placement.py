"""GPU placement rules of the pinned llama.cpp (load_tensors), tested from the source rules: no GPU here."""

from __future__ import annotations

import dataclasses

import pytest

from app.estimate import LoadSettings, estimate
from app.estimate.placement import place_layers
from tests.unit.estimate.shapes import MIB, make_shape


@pytest.mark.parametrize(
    ("ngl", "gpu_layers", "output"),
    [
        (0, [], False),
        (1, [], True),  # the output layer is offloaded first
        (2, [3], True),  # then the repeating layers from the last one down
        (4, [1, 2, 3], True),
        (5, [0, 1, 2, 3], True),
        (99, [0, 1, 2, 3], True),
        (-1, [0, 1, 2, 3], True),
    ],
)
def test_layers_fill_from_the_end(ngl: int, gpu_layers: list[int], output: bool) -> None:
    placement = place_layers(4, ngl, gpu_available=True)
    assert [il for il in range(4) if placement.layer_on_gpu(il)] == gpu_layers
    assert placement.output_on_gpu is output
    assert placement.full_offload is (len(gpu_layers) == 4 and output)


def test_no_gpu_backend_keeps_everything_on_the_host() -> None:
    placement = place_layers(4, -1, gpu_available=False)
    assert placement.n_gpu_layers == 0 and not placement.output_on_gpu


def test_weights_follow_the_layers_and_embeddings_stay_on_the_host() -> None:
    shape = make_shape(layer_bytes=10 * MIB, input_bytes=4 * MIB, output_bytes=5 * MIB)
    full = estimate(shape, LoadSettings(n_gpu_layers=-1))
    assert full.weights.gpu == 4 * 10 * MIB + 5 * MIB
    assert full.weights.cpu == 4 * MIB
    only_output = estimate(shape, LoadSettings(n_gpu_layers=1))
    assert (only_output.weights.gpu, only_output.weights.cpu) == (5 * MIB, 4 * MIB + 40 * MIB)
    cpu = estimate(shape, LoadSettings(n_gpu_layers=0))
    assert (cpu.weights.gpu, cpu.weights.cpu) == (0, shape.weight_bytes)


def test_tied_output_head_is_copied_to_the_gpu() -> None:
    shape = make_shape(tied=True, input_bytes=8 * MIB)
    offloaded = estimate(shape, LoadSettings(n_gpu_layers=1))
    assert offloaded.weights.gpu == 8 * MIB  # a second copy of the embeddings serves as the head
    assert offloaded.weights.cpu == shape.weight_bytes  # the host keeps the embeddings and the layers
    on_host = estimate(shape, LoadSettings(n_gpu_layers=0))
    assert on_host.weights.cpu == shape.weight_bytes  # one copy serves both on the host


def test_kv_cache_follows_its_layer_unless_kqv_offload_is_off() -> None:
    shape = make_shape()
    est = estimate(shape, LoadSettings(n_ctx=1024, n_gpu_layers=3))  # output + layers 2, 3
    per_layer = est.kv.layers[0].bytes
    assert (est.kv_device.gpu, est.kv_device.cpu) == (2 * per_layer, 2 * per_layer)
    kept = estimate(shape, LoadSettings(n_ctx=1024, n_gpu_layers=-1, offload_kqv=False))
    assert kept.kv_device.gpu == 0 and kept.kv_device.cpu == kept.kv_bytes


def test_vram_and_ram_totals_add_up() -> None:
    est = estimate(make_shape(), LoadSettings(n_ctx=2048, n_gpu_layers=3))
    assert est.vram_bytes == est.weights.gpu + est.kv_device.gpu + est.compute.gpu  # llama.cpp's buffers
    assert est.ram_bytes == est.weights.cpu + est.kv_device.cpu + est.output_bytes + est.compute.cpu
    assert (est.vram_need, est.ram_need) == (est.vram_bytes + est.fixed.gpu, est.ram_bytes + est.fixed.cpu)
    assert sum(p.bytes for p in est.breakdown) == est.ram_need + est.vram_need
    assert est.compute.gpu > 0 and est.compute.cpu > 0


def test_compute_buffer_follows_the_output_layer() -> None:
    shape = make_shape(n_vocab=100_000)  # large logits: the output stage dominates
    settings = LoadSettings(n_ctx=1024, n_batch=512, n_ubatch=512)
    logits = 100_000 * 512 * 4
    cpu_only = estimate(shape, dataclasses.replace(settings, n_gpu_layers=0))
    assert cpu_only.compute.gpu == 0 and cpu_only.compute.cpu >= logits
    head_offloaded = estimate(shape, dataclasses.replace(settings, n_gpu_layers=1))
    assert head_offloaded.compute.gpu >= logits > head_offloaded.compute.cpu
    fewer_outputs = estimate(shape, dataclasses.replace(settings, n_gpu_layers=1, n_outputs_max=1))
    assert fewer_outputs.compute.gpu < logits // 100
