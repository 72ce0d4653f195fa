"""The default catalogue: a handful of GGUF repositories shaped like the ones users meet on the real Hub."""

from __future__ import annotations

import functools
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from gguf import GGUFReader, GGUFWriter, LlamaFileType

from tests.fakehub.content import VirtualContent
from tests.fakehub.ggufgen import GeneratedGGUF, LlamaSpec, llama_gguf, mmproj_gguf, tiny_gguf_bytes
from tests.fakehub.repo import FakeRepo
from tests.fakehub.server import FakeHub

LADDER_REPO = "fakeorg/Llama-Fake-1B-GGUF"
SPLIT_REPO = "fakeorg/Big-Fake-3B-GGUF"
GATED_REPO = "gatedorg/Gated-Fake-1B-GGUF"
TINY_REPO = "tiny/Tiny-Llama-GGUF"
GEMMA_REPO = "fakeorg/gemma-3-270m-GGUF"
NON_GGUF_REPO = "fakeorg/Llama-Fake-1B"
MOE_REPO = "moeorg/Mixtral-Fake-8x0.1B-GGUF"  # not in the default catalogue: add_moe_repo
# hybrid (recurrent + attention) repositories, opt-in like the MoE one: add_hybrid_repo
HYBRID_REPOS = {"qwen35": "hybridorg/Tiny-Qwen3.5-GGUF", "qwen35moe": "hybridorg/Tiny-Qwen3.5-MoE-GGUF"}
FILLER_AUTHOR = "community"
N_FILLER = 45

LADDER_SPEC = LlamaSpec(name="Llama Fake 1B")
SPLIT_SPEC = LlamaSpec(
    name="Big Fake 3B", n_embd=1536, n_layer=20, n_ff=6144, n_head=12, n_head_kv=4, n_ctx_train=32768
)
FILLER_SPEC = LlamaSpec(
    name="Filler",
    n_vocab=512,
    n_embd=128,
    n_layer=2,
    n_ff=256,
    n_head=4,
    n_head_kv=2,
    n_ctx_train=2048,
    with_vocab=False,
)
LADDER_TYPES = ("Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0")
# a mixture of experts whose experts outweigh the rest: 8 experts per layer, 2 used per token
MOE_SPEC = LlamaSpec(name="Mixtral Fake 8x0.1B", n_layer=16, n_embd=1024, n_ff=2048, n_expert=8, n_ctx_train=16384)
MOE_TYPES = ("Q2_K", "Q4_K_M", "Q8_0")

_EPOCH = datetime(2025, 3, 1, tzinfo=timezone.utc)


@functools.cache
def generated(spec: LlamaSpec, quant: str) -> GeneratedGGUF:
    return llama_gguf(spec, LlamaFileType[f"MOSTLY_{quant}"] if quant != "F32" else LlamaFileType.ALL_F32)


@functools.cache
def _mmproj() -> GeneratedGGUF:
    return mmproj_gguf()


@functools.cache
def tiny_model_bytes() -> bytes:
    return tiny_gguf_bytes("Tiny Llama")


@functools.cache
def imatrix_gguf_bytes() -> bytes:
    w = GGUFWriter(None, "llama")
    w.add_type("imatrix")
    w.add_array("imatrix.datasets", ["calibration.txt"])
    w.add_uint32("imatrix.chunk_count", 10)
    w.add_uint32("imatrix.chunk_size", 512)
    for i in range(2):
        w.add_tensor(f"blk.{i}.ffn_down.weight.in_sum2", np.ones((1, 64), dtype=np.float32))
        w.add_tensor(f"blk.{i}.ffn_down.weight.counts", np.ones((1, 1), dtype=np.float32))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "imatrix.gguf"
        w.write_header_to_file(path)
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        return path.read_bytes()


@functools.cache
def split_shards(spec: LlamaSpec, quant: str, n_split: int) -> tuple[GeneratedGGUF, ...]:
    """A model split like llama.cpp's gguf-split: each shard a GGUF with split.* keys and its own tensors."""
    from tests.fakehub import ggufgen

    ftype = LlamaFileType[f"MOSTLY_{quant}"]
    plan = ggufgen._tensor_plan(spec, ftype)
    per = -(-len(plan) // n_split)
    w = ggufgen._writer(spec, ftype)
    w.split_max_tensors = per
    sizes: list[int] = []
    params = 0
    for name, shape, qtype in plan:
        n = int(np.prod(shape))
        nbytes = ggufgen._nbytes(n, qtype)
        params += n
        w.add_tensor_info(name, shape, np.dtype(np.float32), nbytes, raw_dtype=qtype)
    for tensors in w.tensors:
        sizes.append(sum(ggufgen._pad(ti.nbytes) for ti in tensors.values()))
    with tempfile.TemporaryDirectory() as tmp:
        w.write_header_to_file(Path(tmp) / "m.gguf")
        w.write_kv_data_to_file()
        w.write_ti_data_to_file()
        w.close()
        paths = sorted(Path(tmp).glob("*.gguf"))
        heads = [p.read_bytes() for p in paths]
    shards = []
    for head, data in zip(heads, sizes, strict=True):
        header = head + b"\0" * (ggufgen._pad(len(head)) - len(head))
        shards.append(GeneratedGGUF(header=header, size=len(header) + data, n_params=params, ftype=ftype, spec=spec))
    return tuple(shards)


def gguf_summary(spec: LlamaSpec, n_params: int) -> dict[str, object]:
    return {
        "total": n_params,
        "architecture": "llama",
        "context_length": spec.n_ctx_train,
        "chat_template": "{% for m in messages %}{{ m['content'] }}{% endfor %}",
        "bos_token": "<t1>",
        "eos_token": "<t2>",
    }


def card(title: str, body: str) -> str:
    return (
        f"---\nlicense: apache-2.0\nbase_model: fakeorg/{title.replace(' ', '-')}\ntags:\n- gguf\n---\n\n"
        f"# {title}\n\n{body}\n\n## Files\n\n| Quant | Use |\n|---|---|\n| Q4_K_M | recommended |\n"
        '| Q8_0 | near lossless |\n\n```\nllama-cli -m model.gguf -p "Hello"\n```\n'
    )


def add_ladder_repo(hub: FakeHub) -> FakeRepo:
    repo = FakeRepo(
        LADDER_REPO,
        downloads=154_000,
        likes=420,
        trending_score=60,
        last_modified=_EPOCH + timedelta(days=120),
        tags=["llama", "text-generation", "imatrix"],
        card_data={"license": "apache-2.0", "base_model": NON_GGUF_REPO},
    )
    repo.set_card(
        card(
            "Llama Fake 1B GGUF",
            "Quantized versions of **Llama Fake 1B**, made with an importance matrix. Pick *Q4_K_M* if unsure.",
        )
    )
    first = None
    for quant in LADDER_TYPES:
        g = generated(LADDER_SPEC, quant)
        first = first or g
        repo.add_file(f"Llama-Fake-1B-{quant}.gguf", VirtualContent(g.header, g.size))
    m = _mmproj()
    repo.add_file("mmproj-Llama-Fake-1B-F16.gguf", VirtualContent(m.header, m.size))
    repo.add_file("Llama-Fake-1B.imatrix.gguf", imatrix_gguf_bytes())
    assert first is not None
    repo.gguf = gguf_summary(LADDER_SPEC, first.n_params)
    return hub.add_repo(repo)


def add_moe_repo(hub: FakeHub) -> FakeRepo:
    """A mixture-of-experts repository (opt-in: the tests that need one add it)."""
    repo = FakeRepo(MOE_REPO, downloads=1_200, likes=12, last_modified=_EPOCH, tags=["llama", "moe", "gguf"])
    repo.set_card(card("Mixtral Fake 8x0.1B GGUF", "A fake **mixture of experts**: 8 experts, 2 used per token."))
    first = None
    for quant in MOE_TYPES:
        g = generated(MOE_SPEC, quant)
        first = first or g
        repo.add_file(f"Mixtral-Fake-8x0.1B-{quant}.gguf", VirtualContent(g.header, g.size))
    assert first is not None
    repo.gguf = gguf_summary(MOE_SPEC, first.n_params)
    return hub.add_repo(repo)


def add_hybrid_repo(hub: FakeHub, arch: str, path: Path) -> FakeRepo:
    """A hybrid repository (`arch` a key of HYBRID_REPOS) serving `path`, a synthetic model of that
    architecture (app.gguf.synthetic_arch), so that verdicts must count its recurrent state."""
    from app.gguf import read_model

    header = read_model(path)
    repo = FakeRepo(HYBRID_REPOS[arch], downloads=10, likes=1, last_modified=_EPOCH, tags=[arch, "gguf"])
    repo.add_file(f"Tiny-{arch}-F32.gguf", path)
    context = header.metadata.get(f"{arch}.context_length")
    repo.gguf = {"total": sum(t.n_elements for t in header.tensors), "architecture": arch, "context_length": context}
    return hub.add_repo(repo)


def add_split_repo(hub: FakeHub) -> FakeRepo:
    repo = FakeRepo(
        SPLIT_REPO,
        downloads=88_000,
        likes=310,
        trending_score=95,
        last_modified=_EPOCH + timedelta(days=200),
        tags=["llama", "text-generation"],
    )
    repo.set_card(
        card(
            "Big Fake 3B GGUF",
            "The Q4_K_M quant is split into three parts (`-00001-of-00003`). "
            "llama.cpp loads the first part and finds the others.",
        )
    )
    shards = split_shards(SPLIT_SPEC, "Q4_K_M", 3)
    for i, g in enumerate(shards, start=1):
        repo.add_file(f"Big-Fake-3B-Q4_K_M-{i:05d}-of-00003.gguf", VirtualContent(g.header, g.size))
    q2 = generated(SPLIT_SPEC, "Q2_K")
    repo.add_file("Big-Fake-3B-Q2_K.gguf", VirtualContent(q2.header, q2.size))
    repo.add_file("imatrix.dat", b"\x00" * 4096, lfs=True)
    repo.gguf = gguf_summary(SPLIT_SPEC, q2.n_params)
    return hub.add_repo(repo)


def add_gated_repo(hub: FakeHub) -> FakeRepo:
    repo = FakeRepo(
        GATED_REPO,
        downloads=51_000,
        likes=800,
        trending_score=30,
        gated="manual",
        last_modified=_EPOCH + timedelta(days=60),
        tags=["llama", "text-generation"],
    )
    repo.set_card(
        card("Gated Fake 1B GGUF", "You need to agree to share your contact information to access this model.")
    )
    for quant in ("Q4_K_M", "Q8_0"):
        g = generated(LADDER_SPEC, quant)
        repo.add_file(f"Gated-Fake-1B-{quant}.gguf", VirtualContent(g.header, g.size))
    repo.gguf = gguf_summary(LADDER_SPEC, generated(LADDER_SPEC, "Q4_K_M").n_params)
    return hub.add_repo(repo)


def add_tiny_repo(hub: FakeHub) -> FakeRepo:
    data = tiny_model_bytes()
    repo = FakeRepo(
        TINY_REPO,
        downloads=1_200,
        likes=12,
        trending_score=5,
        last_modified=_EPOCH + timedelta(days=10),
        tags=["llama"],
    )
    repo.set_card(card("Tiny Llama GGUF", "A tiny random model, complete and loadable, for tests."))
    repo.add_file("Tiny-Llama-F32.gguf", data)
    repo.add_file("config.json", b'{"architectures": ["LlamaForCausalLM"], "model_type": "llama"}\n')
    repo.gguf = {"total": param_count(data), "architecture": "llama", "context_length": 512}
    return hub.add_repo(repo)


def param_count(data: bytes) -> int:
    """Parameter count of a GGUF given as bytes (through gguf-py's reader)."""
    with tempfile.NamedTemporaryFile(suffix=".gguf") as tmp:
        tmp.write(data)
        tmp.flush()
        return int(sum(int(t.n_elements) for t in GGUFReader(tmp.name).tensors))


def add_gemma_repo(hub: FakeHub, path: Path) -> FakeRepo:
    repo = FakeRepo(
        GEMMA_REPO,
        downloads=230_000,
        likes=150,
        trending_score=120,
        last_modified=_EPOCH + timedelta(days=240),
        tags=["gemma3", "text-generation"],
    )
    repo.set_card(card("Gemma 3 270M GGUF", "The real Gemma 3 270M, quantized to Q4_K_M."))
    repo.add_file(path.name, path)
    from app.gguf.reader import read_header  # fast: gguf-py's reader decodes the whole 262k-token vocabulary

    header = read_header(path)
    ctx = header.metadata["gemma3.context_length"]
    repo.gguf = {"total": sum(t.n_elements for t in header.tensors), "architecture": "gemma3", "context_length": ctx}
    return hub.add_repo(repo)


def add_non_gguf_repo(hub: FakeHub) -> FakeRepo:
    repo = FakeRepo(
        NON_GGUF_REPO,
        downloads=900_000,
        likes=2_000,
        trending_score=200,
        tags=["safetensors", "llama"],
        library_name="transformers",
    )
    repo.set_card(card("Llama Fake 1B", "The original checkpoint (safetensors)."))
    repo.add_file("model.safetensors", b"\0" * 1024)
    repo.add_file("config.json", b'{"architectures": ["LlamaForCausalLM"], "model_type": "llama"}\n')
    return hub.add_repo(repo)


def add_fillers(hub: FakeHub, n: int = N_FILLER) -> list[FakeRepo]:
    g = generated(FILLER_SPEC, "Q4_K_M")
    out = []
    for i in range(n):
        repo = FakeRepo(
            f"{FILLER_AUTHOR}/filler-{i:02d}-llama-GGUF",
            downloads=100 + i * 7,
            likes=i,
            trending_score=i % 10,
            last_modified=_EPOCH + timedelta(days=i),
            tags=["llama"],
        )
        repo.set_card(f"# Filler {i}\n\nA small community quant.\n")
        repo.add_file(f"filler-{i:02d}-Q4_K_M.gguf", VirtualContent(g.header, g.size))
        repo.gguf = gguf_summary(FILLER_SPEC, g.n_params)
        out.append(hub.add_repo(repo))
    return out


def build_default_catalogue(hub: FakeHub, gemma: Path | None = None) -> FakeHub:
    add_ladder_repo(hub)
    add_split_repo(hub)
    add_gated_repo(hub)
    add_tiny_repo(hub)
    add_non_gguf_repo(hub)
    add_fillers(hub)
    if gemma is not None:
        add_gemma_repo(hub, gemma)
    return hub
