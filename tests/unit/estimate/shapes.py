"""Hand-built model shapes for the unit tests (no files)."""

from __future__ import annotations

from app.estimate import ModelShape

MIB = 1024 * 1024


def make_shape(
    n_layer: int = 4,
    n_embd: int = 256,
    n_head: int | tuple[int, ...] = 8,
    n_head_kv: int | tuple[int, ...] = 2,
    head: int = 32,
    n_vocab: int = 1000,
    swa_every: int = 0,
    n_swa: int = 0,
    mla: bool = False,
    layer_bytes: int = 10 * MIB,
    input_bytes: int = 4 * MIB,
    output_bytes: int = 5 * MIB,
    tied: bool = False,
    n_ctx_train: int = 8192,
    arch: str = "llama",
) -> ModelShape:
    def per_layer(value: int | tuple[int, ...]) -> tuple[int, ...]:
        return value if isinstance(value, tuple) else (value,) * n_layer

    swa = tuple(bool(swa_every) and il % swa_every < swa_every - 1 for il in range(n_layer))
    return ModelShape(
        arch=arch,
        n_layer=n_layer,
        n_embd=n_embd,
        n_vocab=n_vocab,
        n_ctx_train=n_ctx_train,
        n_head=per_layer(n_head),
        n_head_kv=per_layer(n_head_kv),
        head_k=head,
        head_v=head,
        head_k_swa=head,
        head_v_swa=head,
        swa_layers=swa,
        n_swa=n_swa,
        mla=mla,
        kv_layers=(True,) * n_layer,
        n_ff=(4 * n_embd,) * n_layer,
        input_bytes=input_bytes,
        layer_bytes=(layer_bytes,) * n_layer,
        output_bytes=0 if tied else output_bytes,
        tied_output_bytes=input_bytes if tied else 0,
    )
