from __future__ import annotations

from app.estimate.split import layer_devices


def test_an_even_split_of_every_layer() -> None:
    where = layer_devices(18, 999, (0.5, 0.5))
    assert where == (0,) * 10 + (1,) * 9  # 19 layers with the output one: (il / 19) < 0.5 for il <= 9


def test_partial_offload_starts_at_the_last_layers() -> None:
    where = layer_devices(4, 3, (1.0, 1.0, 2.0))
    assert where == (None, None, 0, 1, 2)


def test_no_devices_or_no_layers() -> None:
    assert layer_devices(3, 999, ()) == (None,) * 4
    assert layer_devices(3, 0, (1.0,)) == (None,) * 4


def test_a_device_with_no_share_gets_no_layer() -> None:
    assert 1 not in layer_devices(8, -1, (0.5, 0.0, 0.5))
