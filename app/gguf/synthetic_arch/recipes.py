"""The tensors and header keys each transformer architecture of the pinned llama.cpp asks for at the tiny
default shape (transformer.py TRANSFORMER_SPEC): found by loading candidate files with llama.cpp and
reading what its loader asks for (missing tensors, expected shapes, missing keys), checked against
src/models/<arch>.cpp. Dims: E n_embd, V n_vocab, F n_ff, FE n_ff_exp, X n_expert, D head_dim,
K head_dim x n_head_kv; other numbers are literal. Entries that many recipes share are named once
(QKVO, FFN, EXPS, EXPS_F, SHEXP) and spliced in with f-strings. Sliding-window architectures get a 128-token window.
"""

from __future__ import annotations

from app.gguf.synthetic_arch.transformer import Recipe

# fmt: off

# grouped-query attention: Q, K, V, output
QKVO = "attn_q.weight:E,E attn_k.weight:E,K attn_v.weight:E,K attn_output.weight:E,E"
# gated feed-forward (gate, down, up)
FFN = "ffn_gate.weight:E,F ffn_down.weight:F,E ffn_up.weight:E,F"
# router and gated experts
EXPS = "ffn_gate_inp.weight:E,X ffn_gate_exps.weight:E,FE,X ffn_down_exps.weight:FE,E,X ffn_up_exps.weight:E,FE,X"
# router and gated experts n_ff wide
EXPS_F = "ffn_gate_inp.weight:E,X ffn_gate_exps.weight:E,F,X ffn_down_exps.weight:F,E,X ffn_up_exps.weight:E,F,X"
# shared expert
SHEXP = "ffn_gate_shexp.weight:E,FE ffn_down_shexp.weight:FE,E ffn_up_shexp.weight:E,FE"
SWA = ("attention.sliding_window", 128)  # a 128-token sliding window
SWA_EVEN = ("attention.sliding_window_pattern", [True, False, True, False])  # the window on layers 0 and 2
LOGIT_SCALE = ("logit_scale", 1.0)
DENSE_FIRST = ("leading_dense_block_count", 1)  # layer 0 dense, the others MoE
SHARED_EXPERT = ("expert_shared_count", 1)
SOFTMAX_GATING = ("expert_gating_func", 1)
TOP_LLAMA = "token_embd.weight:E,V output_norm.weight:E output.weight:E,V"
TOP_GEMMA = "token_embd.weight:E,V output_norm.weight:E"
TOP_PHI2 = "token_embd.weight:E,V output_norm.weight:E output.weight:E,V output_norm.bias:E output.bias:V"
TOP_FALCON = "token_embd.weight:E,V output_norm.weight:E output.weight:E,V output_norm.bias:E"
TOP_GPT2 = "token_embd.weight:E,V output_norm.weight:E output.weight:E,V position_embd.weight:E,4096 output_norm.bias:E"
BLOCK_LLAMA = f"attn_norm.weight:E {QKVO} ffn_norm.weight:E {FFN}"
BLOCK_QWEN3 = f"attn_norm.weight:E {QKVO} attn_k_norm.weight:D attn_q_norm.weight:D ffn_norm.weight:E {FFN}"
BLOCK_QWEN3MOE = f"attn_norm.weight:E {QKVO} attn_k_norm.weight:D attn_q_norm.weight:D ffn_norm.weight:E {EXPS}"
BLOCK_DEEPSEEK = f"attn_norm.weight:E {QKVO} ffn_norm.weight:E {EXPS} {SHEXP}"
BLOCK_DEEPSEEK2 = (
    "attn_norm.weight:E attn_q_a_norm.weight:K attn_kv_a_norm.weight:E attn_q_a.weight:E,K attn_q_b.weight:K,128 "
    "attn_kv_a_mqa.weight:E,80 attn_k_b.weight:D,E,4 attn_v_b.weight:E,K,4 attn_output.weight:128,E "
    "ffn_norm.weight:E ffn_gate.weight:E,F@0 ffn_down.weight:F,E@0 ffn_up.weight:E,F@0 ffn_gate_inp.weight:E,X@1,2,3 "
    "ffn_down_exps.weight:FE,E,X@1,2,3 ffn_gate_exps.weight:E,FE,X@1,2,3 ffn_up_exps.weight:E,FE,X@1,2,3 "
    "ffn_gate_shexp.weight:E,FE@1,2,3 ffn_down_shexp.weight:FE,E@1,2,3 ffn_up_shexp.weight:E,FE@1,2,3"
)
BLOCK_COHERE2 = f"attn_norm.weight:E {QKVO} {FFN}"
BLOCK_GPT2 = (
    "attn_norm.weight:E attn_norm.bias:E attn_qkv.weight:E,128 attn_qkv.bias:128 attn_output.weight:E,E "
    "attn_output.bias:E ffn_norm.weight:E ffn_norm.bias:E ffn_down.weight:F,E ffn_down.bias:E ffn_up.weight:E,F "
    "ffn_up.bias:F"
)
BLOCK_LLADA_MOE = f"attn_norm.weight:E {QKVO} attn_q_norm.weight:D attn_k_norm.weight:D ffn_norm.weight:E {EXPS}"
MLA_META = (  # deepseek2's multi-head latent attention
    ("attention.head_count_kv", 1),
    ("attention.key_length", 80),
    ("attention.value_length", 64),
    ("attention.key_length_mla", 32),
    ("attention.value_length_mla", 32),
    ("attention.kv_lora_rank", 64),
    ("attention.q_lora_rank", 32),
    DENSE_FIRST,
    SHARED_EXPERT,
)
LLAMA = Recipe(TOP_LLAMA, BLOCK_LLAMA)

RECIPES: dict[str, Recipe] = {
    "llama": LLAMA,
    "qwen2": LLAMA,
    "qwen3": Recipe(TOP_LLAMA, BLOCK_QWEN3),
    "qwen3moe": Recipe(TOP_LLAMA, BLOCK_QWEN3MOE, moe=True),
    "gemma": Recipe(
        TOP_GEMMA,
        f"attn_norm.weight:E {QKVO} ffn_norm.weight:E ffn_gate.weight:E,F ffn_up.weight:E,F ffn_down.weight:F,E",
    ),
    "gemma2": Recipe(
        TOP_GEMMA,
        f"attn_norm.weight:E {QKVO} post_attention_norm.weight:E ffn_norm.weight:E ffn_gate.weight:E,F "
        "ffn_up.weight:E,F ffn_down.weight:F,E post_ffw_norm.weight:E",
        meta=(SWA,),
    ),
    "gemma3": Recipe(
        TOP_LLAMA,
        f"attn_norm.weight:E {QKVO} post_attention_norm.weight:E attn_k_norm.weight:D attn_q_norm.weight:D "
        "ffn_norm.weight:E ffn_gate.weight:E,F ffn_up.weight:E,F ffn_down.weight:F,E post_ffw_norm.weight:E",
        meta=(SWA,),
    ),
    "gemma3n": Recipe(
        "token_embd.weight:E,V output_norm.weight:E output.weight:E,V altup_proj.weight:E,E,3 "
        "altup_unembd_proj.weight:E,E,3 per_layer_token_embd.weight:1024,V per_layer_model_proj.weight:E,1024 "
        "per_layer_proj_norm.weight:256",
        f"attn_norm.weight:E {QKVO} attn_q_norm.weight:D attn_k_norm.weight:D post_attention_norm.weight:E "
        "ffn_norm.weight:E ffn_gate.weight:E,F ffn_up.weight:E,F ffn_down.weight:F,E post_ffw_norm.weight:E "
        "inp_gate.weight:E,256 proj.weight:256,E post_norm.weight:E altup_correct_coef.weight:4,4 "
        "altup_correct_scale.weight:E altup_predict_coef.weight:4,D altup_router.weight:E,4 "
        "altup_router_norm.weight:E laurel_l.weight:E,E laurel_r.weight:E,E laurel_post_norm.weight:E",
        meta=(SWA,),
    ),
    "gemma4": Recipe(
        "token_embd.weight:E,V output_norm.weight:E output.weight:E,V per_layer_token_embd.weight:128,V "
        "per_layer_model_proj.weight:E,128 per_layer_proj_norm.weight:K rope_freqs.weight:X",
        "attn_norm.weight:E attn_q.weight:E,E attn_k.weight:E,K attn_output.weight:E,E attn_q_norm.weight:D "
        "attn_k_norm.weight:D post_attention_norm.weight:E ffn_norm.weight:E ffn_gate.weight:E,F ffn_up.weight:E,F "
        "ffn_down.weight:F,E post_ffw_norm.weight:E inp_gate.weight:E,K proj.weight:K,E post_norm.weight:E",
        meta=(
            ("embedding_length_per_layer_input", 32),
            ("attention.shared_kv_layers", 0),
            ("attention.key_length_swa", 16),
            ("attention.value_length_swa", 16),
            ("rope.freq_base_swa", 10000.0),
            ("attention.sliding_window_pattern", [True, True, True, False]),
            SWA,
        ),
    ),
    "phi2": Recipe(
        TOP_PHI2,
        f"attn_norm.weight:E attn_norm.bias:E {QKVO} attn_output.bias:E ffn_down.weight:F,E ffn_down.bias:E "
        "ffn_up.weight:E,F ffn_up.bias:F",
    ),
    "phi3": Recipe(
        TOP_LLAMA,
        "attn_qkv.weight:E,128 attn_norm.weight:E attn_output.weight:E,E ffn_norm.weight:E ffn_down.weight:F,E "
        "ffn_up.weight:E,192",
    ),
    "phimoe": Recipe(
        TOP_PHI2,
        f"attn_norm.weight:E attn_norm.bias:E {QKVO} attn_output.bias:E ffn_norm.weight:E ffn_norm.bias:E {EXPS_F}",
        moe=True,
    ),
    "mistral3": LLAMA,
    "deepseek": Recipe(TOP_LLAMA, BLOCK_DEEPSEEK, moe=True, meta=(SHARED_EXPERT,)),
    "deepseek2": Recipe(TOP_LLAMA, BLOCK_DEEPSEEK2, moe=True, meta=MLA_META),
    "glm4": Recipe(
        TOP_LLAMA,
        f"attn_norm.weight:E {QKVO} post_attention_norm.weight:E ffn_norm.weight:E ffn_down.weight:F,E "
        "ffn_up.weight:E,192 post_ffw_norm.weight:E",
    ),
    "glm4moe": Recipe(
        TOP_LLAMA,
        f"attn_norm.weight:E {QKVO} post_attention_norm.weight:E ffn_gate_inp.weight:E,X exp_probs_b.bias:X "
        f"ffn_gate_exps.weight:E,FE,X ffn_down_exps.weight:FE,E,X ffn_up_exps.weight:E,FE,X {SHEXP}",
        moe=True,
        meta=(SHARED_EXPERT,),
    ),
    "gpt-oss": Recipe(
        TOP_LLAMA,
        f"attn_norm.weight:E post_attention_norm.weight:E {QKVO} attn_sinks.weight:4 {EXPS} attn_output.bias:E "
        "ffn_gate_inp.bias:X ffn_gate_exps.bias:FE,X ffn_down_exps.bias:E,X ffn_up_exps.bias:FE,X",
        moe=True,
        meta=(SWA,),
    ),
    "llama4": Recipe(
        TOP_LLAMA,
        f"attn_norm.weight:E {QKVO} ffn_norm.weight:E ffn_gate.weight:E,F@0,2 ffn_down.weight:F,E@0,2 "
        "ffn_up.weight:E,F@0,2 ffn_gate_inp.weight:E,X@1,3 ffn_gate_exps.weight:E,FE,X@1,3 "
        "ffn_down_exps.weight:FE,E,X@1,3 ffn_up_exps.weight:E,FE,X@1,3 ffn_gate_shexp.weight:E,FE@1,3 "
        "ffn_down_shexp.weight:FE,E@1,3 ffn_up_shexp.weight:E,FE@1,3",
        moe=True,
        meta=(("interleave_moe_layer_step", 2), SWA),
    ),
    "olmo": Recipe("token_embd.weight:E,V", f"{QKVO} {FFN}"),
    "olmo2": Recipe(
        TOP_LLAMA,
        f"{QKVO} attn_q_norm.weight:E attn_k_norm.weight:K post_attention_norm.weight:E ffn_gate.weight:E,F "
        "ffn_up.weight:E,F ffn_down.weight:F,E post_ffw_norm.weight:E",
        meta=(SWA,),
    ),
    "olmoe": Recipe(
        TOP_LLAMA,
        "attn_norm.weight:E attn_q.weight:E,E attn_k.weight:E,E attn_v.weight:E,E attn_output.weight:E,E "
        f"attn_q_norm.weight:E attn_k_norm.weight:E ffn_norm.weight:E {EXPS_F}",
        moe=True,
        meta=(("attention.head_count_kv", 4),),
    ),
    "granite": Recipe(TOP_LLAMA, BLOCK_LLAMA, meta=(LOGIT_SCALE,)),
    "chameleon": Recipe(  # per-head Q/K norms; the vocabulary must hold the image tokens 4..8195 (__init__.py)
        TOP_LLAMA,
        f"attn_norm.weight:E attn_q_norm.weight:D,4 attn_k_norm.weight:D,2 {QKVO} ffn_norm.weight:E {FFN}",
    ),
    "plm": Recipe(  # MLA-style compressed KV decompressed per head: as many KV heads as heads, 8 rope dims
        "token_embd.weight:E,V output_norm.weight:E",
        "attn_norm.weight:E attn_q.weight:E,64 attn_kv_a_mqa.weight:E,40 attn_kv_a_norm.weight:32 "
        "attn_kv_b.weight:32,96 attn_output.weight:64,E ffn_norm.weight:E ffn_down.weight:F,E ffn_up.weight:E,F",
        meta=(("attention.head_count_kv", 4), ("rope.dimension_count", 8), ("attention.kv_lora_rank", 32)),
    ),
    "hrm_text": Recipe(  # 4 cache slots (1 layer a stack × 2 high cycles × (1 low cycle + 1)) over blocks 0, 1
        "token_embd.weight:E,V output.weight:E,V hrm.z_l_init:E",
        "attn_q.weight:E,E@0,1 attn_k.weight:E,K@0,1 attn_v.weight:E,K@0,1 attn_gate.weight:E,E@0,1 "
        "attn_output.weight:E,E@0,1 ffn_gate.weight:E,F@0,1 ffn_down.weight:F,E@0,1 ffn_up.weight:E,F@0,1",
        meta=(("hrm.layers_per_stack", 1), ("hrm.h_cycles", 2), ("hrm.l_cycles", 1)),
    ),
    "graniteswitch": Recipe(  # fused QKV, and per-layer stacked LoRA adapters (rank 4, base + 1 adapter)
        TOP_LLAMA,
        f"attn_norm.weight:E attn_qkv.weight:E,128 attn_output.weight:E,E ffn_norm.weight:E {FFN} "
        + " ".join(
            f"{name}.lora_a:{n_in},4,2 {name}.lora_b:4,{n_out},2"
            for name, n_in, n_out in (
                ("attn_q", "E", "E"), ("attn_k", "E", "K"), ("attn_v", "E", "K"), ("attn_output", "E", "E"),
                ("ffn_gate", "E", "F"), ("ffn_up", "E", "F"), ("ffn_down", "F", "E"),
            )
        ),
        meta=(
            LOGIT_SCALE, ("adapters.count", 1), ("adapters.lora_rank", 4),
            ("adapters.token_ids_activate", [5]), ("adapters.token_ids_substitute", [6]),
        ),
    ),
    "granitemoe": Recipe(
        TOP_LLAMA,
        f"attn_norm.weight:E {QKVO} ffn_norm.weight:E ffn_gate_inp.weight:E,X ffn_down_exps.weight:F,E,X "
        "ffn_up_exps.weight:E,F,X",
        moe=True,
        meta=(LOGIT_SCALE,),
    ),
    "granite_swa": Recipe(
        TOP_LLAMA,
        f"attn_norm.weight:E {QKVO} attn_sinks.weight:4 ffn_norm.weight:E {FFN}",
        meta=(SWA_EVEN, LOGIT_SCALE, SWA),
    ),
    "cohere2": Recipe(TOP_GEMMA, BLOCK_COHERE2, meta=(SWA, LOGIT_SCALE)),
    "cohere2moe": Recipe(
        TOP_LLAMA,
        f"attn_norm.weight:E {QKVO} ffn_gate.weight:E,F@0 ffn_down.weight:F,E@0 ffn_up.weight:E,F@0 "
        "ffn_gate_inp.weight:E,X@1,2,3 ffn_down_exps.weight:FE,E,X@1,2,3 ffn_gate_exps.weight:E,FE,X@1,2,3 "
        "ffn_up_exps.weight:E,FE,X@1,2,3",
        moe=True,
        meta=(SWA, LOGIT_SCALE, DENSE_FIRST),
    ),
    "command-r": Recipe(TOP_GEMMA, BLOCK_COHERE2),
    "exaone": LLAMA,
    "exaone4": Recipe(
        TOP_LLAMA,
        f"{QKVO} post_attention_norm.weight:E attn_q_norm.weight:D attn_k_norm.weight:D {FFN} post_ffw_norm.weight:E",
    ),
    "exaone-moe": Recipe(
        TOP_LLAMA,
        f"{QKVO} attn_norm.weight:E attn_q_norm.weight:D attn_k_norm.weight:D ffn_norm.weight:E {EXPS} {SHEXP}",
        moe=True,
        meta=(SWA, SOFTMAX_GATING),
    ),
    "ernie4_5": LLAMA,
    "ernie4_5-moe": Recipe(
        TOP_LLAMA,
        f"attn_norm.weight:E {QKVO} ffn_norm.weight:E ffn_gate_inp.weight:E,X ffn_down_exps.weight:FE,E,X "
        "ffn_up_exps.weight:E,FE,X",
        moe=True,
        meta=(("interleave_moe_layer_step", 1),),
    ),
    "smollm3": LLAMA,
    "seed_oss": Recipe(
        TOP_LLAMA,
        f"{QKVO} attn_norm.weight:E post_attention_norm.weight:E ffn_gate.weight:E,F ffn_up.weight:E,F "
        "ffn_down.weight:F,E",
    ),
    "apertus": Recipe(
        TOP_LLAMA,
        f"attn_norm.weight:E {QKVO} ffn_norm.weight:E ffn_down.weight:F,E ffn_up.weight:E,F attn_q_norm.weight:D "
        "attn_k_norm.weight:D",
        meta=(
            ("/xielu.alpha_n", [0.8, 0.8, 0.8, 0.8]),
            ("/xielu.alpha_p", [0.8, 0.8, 0.8, 0.8]),
            ("/xielu.beta", [0.5, 0.5, 0.5, 0.5]),
            ("/xielu.eps", [1e-06, 1e-06, 1e-06, 1e-06]),
        ),
    ),
    "minicpm": LLAMA,
    "minicpm3": Recipe(
        TOP_LLAMA,
        "attn_norm.weight:E attn_q_a_norm.weight:K attn_kv_a_norm.weight:K attn_q_a.weight:E,K attn_q_b.weight:K,E "
        f"attn_kv_a_mqa.weight:E,40 attn_kv_b.weight:K,F attn_output.weight:E,E ffn_norm.weight:E {FFN}",
        meta=(
            ("attention.head_count_kv", 4),
            ("rope.dimension_count", 8),
            ("attention.q_lora_rank", 32),
            ("attention.kv_lora_rank", 32),
        ),
    ),
    "hunyuan-moe": Recipe(
        TOP_LLAMA,
        f"attn_norm.weight:E {QKVO} attn_k_norm.weight:D attn_q_norm.weight:D ffn_norm.weight:E {EXPS_F} "
        "ffn_gate_shexp.weight:E,F ffn_up_shexp.weight:E,F ffn_down_shexp.weight:F,E",
        moe=True,
    ),
    "hunyuan-dense": Recipe(TOP_LLAMA, BLOCK_QWEN3),
    "hunyuan_vl": Recipe(TOP_LLAMA, BLOCK_QWEN3),
    "hy_v3": Recipe(
        TOP_LLAMA,
        f"attn_norm.weight:E {QKVO} attn_q_norm.weight:D attn_k_norm.weight:D ffn_norm.weight:E",
        meta=(("expert_feed_forward_length", 48),),
    ),
    "bailingmoe": Recipe(TOP_LLAMA, BLOCK_DEEPSEEK, moe=True, meta=(SHARED_EXPERT,)),
    "bailingmoe2": Recipe(
        TOP_LLAMA,
        "attn_norm.weight:E attn_qkv.weight:E,128 attn_output.weight:E,E attn_q_norm.weight:D attn_k_norm.weight:D "
        f"ffn_norm.weight:E {EXPS} {SHEXP}",
        moe=True,
        meta=(SHARED_EXPERT, SOFTMAX_GATING),
    ),
    "qwen": Recipe(
        TOP_LLAMA,
        "attn_norm.weight:E attn_qkv.weight:E,192 attn_qkv.bias:192 attn_output.weight:E,E ffn_norm.weight:E "
        "ffn_gate.weight:E,FE ffn_down.weight:FE,E ffn_up.weight:E,FE",
    ),
    "qwen2moe": Recipe(
        TOP_LLAMA,
        f"attn_norm.weight:E {QKVO} ffn_norm.weight:E {EXPS} ffn_gate_inp_shexp.weight:E ffn_gate_shexp.weight:E,F "
        "ffn_down_shexp.weight:F,E ffn_up_shexp.weight:E,F",
        moe=True,
    ),
    "qwen2vl": Recipe(TOP_LLAMA, BLOCK_LLAMA, meta=(("rope.dimension_sections", [4, 2, 2, 0]),)),
    "qwen3vl": Recipe(TOP_LLAMA, BLOCK_QWEN3, meta=(("rope.dimension_sections", [4, 2, 2, 0]),)),
    "qwen3vlmoe": Recipe(TOP_LLAMA, BLOCK_QWEN3MOE, moe=True, meta=(("rope.dimension_sections", [4, 2, 2, 0]),)),
    "deci": LLAMA,
    "falcon": Recipe(
        TOP_FALCON,
        "attn_norm.weight:E attn_norm.bias:E attn_qkv.weight:E,128 attn_output.weight:E,E ffn_down.weight:F,E "
        "ffn_up.weight:E,F",
    ),
    "grok": Recipe(
        TOP_LLAMA,
        f"attn_norm.weight:E {QKVO} attn_output_norm.weight:E ffn_norm.weight:E ffn_gate_inp.weight:E,X "
        "ffn_down_exps.weight:FE,E,X ffn_up_exps.weight:E,FE,X post_ffw_norm.weight:E",
        moe=True,
    ),
    "gpt2": Recipe(TOP_GPT2, BLOCK_GPT2),
    "gptneox": Recipe(TOP_FALCON, BLOCK_GPT2, meta=(("use_parallel_residual", False),)),
    "mpt": Recipe(
        TOP_LLAMA,
        "attn_norm.weight:E attn_qkv.weight:E,128 attn_output.weight:E,E ffn_norm.weight:E ffn_down.weight:F,E "
        "ffn_up.weight:E,F",
    ),
    "baichuan": LLAMA,
    "starcoder": Recipe(TOP_GPT2, BLOCK_GPT2),
    "starcoder2": Recipe(
        TOP_FALCON,
        f"attn_norm.weight:E attn_norm.bias:E {QKVO} attn_output.bias:E ffn_norm.weight:E ffn_norm.bias:E "
        "ffn_down.weight:F,E ffn_up.weight:E,F ffn_down.bias:E ffn_up.bias:F",
    ),
    "refact": LLAMA,
    "bloom": Recipe(
        "token_embd.weight:E,V output_norm.weight:E output.weight:E,V token_embd_norm.weight:E "
        "token_embd_norm.bias:E output_norm.bias:E",
        BLOCK_GPT2,
    ),
    "stablelm": Recipe(TOP_FALCON, f"attn_norm.weight:E attn_norm.bias:E {QKVO} {FFN}"),
    "plamo": Recipe(TOP_LLAMA, BLOCK_COHERE2),
    "plamo3": Recipe(
        TOP_LLAMA,
        "attn_norm.weight:E attn_qkv.weight:E,128 attn_q_norm.weight:D attn_k_norm.weight:D attn_output.weight:E,E "
        "post_attention_norm:E ffn_norm.weight:E post_ffw_norm:E ffn_up.weight:E,192 ffn_down.weight:F,E",
        meta=(SWA,),
    ),
    "codeshell": Recipe(
        TOP_FALCON,
        f"attn_norm.weight:E attn_norm.bias:E {QKVO} attn_output.bias:E ffn_norm.weight:E ffn_norm.bias:E "
        "ffn_down.weight:F,E ffn_down.bias:E ffn_up.weight:E,F ffn_up.bias:F",
    ),
    "orion": Recipe(TOP_FALCON, f"attn_norm.weight:E attn_norm.bias:E {QKVO} ffn_norm.weight:E ffn_norm.bias:E {FFN}"),
    "internlm2": LLAMA,
    "xverse": LLAMA,
    "dbrx": Recipe(
        TOP_LLAMA,
        f"attn_norm.weight:E attn_qkv.weight:E,128 attn_output.weight:E,E attn_output_norm.weight:E {EXPS_F}",
        moe=True,
        meta=(("attention.clamp_kqv", 8.0),),
    ),
    "muse-glimmer": Recipe(
        TOP_LLAMA,
        f"attn_norm.weight:E post_attention_norm.weight:E {QKVO} attn_q_norm.weight:D attn_k_norm.weight:D "
        f"attn_gate.weight:E,E ffn_norm.weight:E post_ffw_norm.weight:E {FFN}",
        meta=(SWA, LOGIT_SCALE),
    ),
    "openelm": Recipe(
        TOP_GEMMA,
        "attn_norm.weight:E attn_qkv.weight:E,128 attn_q_norm.weight:D attn_k_norm.weight:D attn_output.weight:E,E "
        f"ffn_norm.weight:E {FFN}",
    ),
    "arctic": Recipe(
        TOP_LLAMA,
        f"attn_norm.weight:E {QKVO} ffn_norm.weight:E ffn_gate.weight:E,E ffn_down.weight:E,E ffn_up.weight:E,E "
        "ffn_gate_inp.weight:E,X ffn_norm_exps.weight:E ffn_gate_exps.weight:E,F,X ffn_down_exps.weight:F,E,X "
        "ffn_up_exps.weight:E,F,X",
        moe=True,
    ),
    "chatglm": Recipe(
        TOP_LLAMA,
        f"attn_norm.weight:E {QKVO} ffn_norm.weight:E ffn_up.weight:E,192 ffn_down.weight:F,E",
    ),
    "bitnet": Recipe(
        TOP_GEMMA,
        f"attn_norm.weight:E attn_sub_norm.weight:E {QKVO} ffn_norm.weight:E ffn_sub_norm.weight:F {FFN}",
    ),
    "jais": Recipe(
        TOP_FALCON,
        "attn_norm.weight:E attn_norm.bias:E attn_qkv.weight:E,128 attn_qkv.bias:128 attn_output.weight:E,E "
        "attn_output.bias:E ffn_norm.weight:E ffn_norm.bias:E ffn_down.weight:F,E ffn_down.bias:E "
        "ffn_gate.weight:E,F ffn_gate.bias:F ffn_up.weight:E,F ffn_up.bias:F",
    ),
    "jais2": Recipe(
        TOP_FALCON,
        f"attn_norm.weight:E attn_norm.bias:E {QKVO} attn_output.bias:E ffn_norm.weight:E ffn_norm.bias:E "
        "ffn_up.weight:E,F ffn_up.bias:F ffn_down.weight:F,E ffn_down.bias:E",
    ),
    "nemotron": Recipe(
        TOP_FALCON,
        f"attn_norm.weight:E attn_norm.bias:E {QKVO} ffn_norm.weight:E ffn_norm.bias:E ffn_down.weight:F,E "
        "ffn_up.weight:E,F",
    ),
    "arcee": Recipe(TOP_LLAMA, f"attn_norm.weight:E {QKVO} ffn_norm.weight:E ffn_down.weight:F,E ffn_up.weight:E,F"),
    "afmoe": Recipe(
        TOP_LLAMA,
        f"attn_norm.weight:E post_attention_norm.weight:E {QKVO} attn_q_norm.weight:D attn_k_norm.weight:D "
        "attn_gate.weight:E,E ffn_norm.weight:E post_ffw_norm.weight:E ffn_gate.weight:E,F@0 ffn_down.weight:F,E@0 "
        "ffn_up.weight:E,F@0 ffn_gate_inp.weight:E,X@1,2,3 exp_probs_b.bias:X@1,2,3 "
        "ffn_gate_exps.weight:E,FE,X@1,2,3 ffn_down_exps.weight:FE,E,X@1,2,3 ffn_up_exps.weight:E,FE,X@1,2,3 "
        "ffn_gate_shexp.weight:E,FE@1,2,3 ffn_down_shexp.weight:FE,E@1,2,3 ffn_up_shexp.weight:E,FE@1,2,3",
        moe=True,
        meta=(("expert_gating_func", 2), SWA, DENSE_FIRST, SHARED_EXPERT),
    ),
    "laguna": Recipe(
        TOP_LLAMA,
        f"attn_gate.weight:E,4 attn_norm.weight:E {QKVO} attn_q_norm.weight:D attn_k_norm.weight:D ffn_norm.weight:E "
        "ffn_gate.weight:E,F@0 ffn_up.weight:E,F@0 ffn_down.weight:F,E@0 ffn_gate_inp.weight:E,X@1,2,3 "
        "exp_probs_b.bias:X@1,2,3 ffn_gate_exps.weight:E,FE,X@1,2,3 ffn_up_exps.weight:E,FE,X@1,2,3 "
        "ffn_down_exps.weight:FE,E,X@1,2,3 ffn_gate_shexp.weight:E,FE@1,2,3 ffn_up_shexp.weight:E,FE@1,2,3 "
        "ffn_down_shexp.weight:FE,E@1,2,3",
        moe=True,
        meta=(DENSE_FIRST, SWA),
    ),
    "dots1": Recipe(
        TOP_LLAMA,
        "attn_norm.weight:E attn_q.weight:E,E attn_k.weight:E,E attn_v.weight:E,E attn_output.weight:E,E "
        f"attn_k_norm.weight:D attn_q_norm.weight:D ffn_norm.weight:E {EXPS} {SHEXP}",
        moe=True,
        meta=(("attention.head_count_kv", 4), ("expert_gating_func", 2), SHARED_EXPERT),
    ),
    "smallthinker": Recipe(
        TOP_LLAMA,
        f"attn_norm.weight:E {QKVO} ffn_norm.weight:E {EXPS}",
        moe=True,
        meta=(SOFTMAX_GATING, SWA),
    ),
    "llada-moe": Recipe(TOP_LLAMA, BLOCK_LLADA_MOE, moe=True),
    "grovemoe": Recipe(
        TOP_LLAMA,
        f"attn_norm.weight:E {QKVO} attn_k_norm.weight:D attn_q_norm.weight:D ffn_norm.weight:E {EXPS} "
        "ffn_gate_chexps.weight:E,FE,4 ffn_down_chexps.weight:FE,E,4 ffn_up_chexps.weight:E,FE,4",
        moe=True,
        meta=(
            SOFTMAX_GATING,
            ("experts_per_group", 2),
            ("expert_group_scale", 1.0),
            ("expert_chunk_feed_forward_length", 48),
        ),
    ),
    "minimax-m2": Recipe(
        TOP_LLAMA,
        f"{QKVO} attn_norm.weight:E attn_q_norm.weight:E attn_k_norm.weight:K ffn_norm.weight:E {EXPS_F} "
        "exp_probs_b.bias:X",
        moe=True,
        meta=(SOFTMAX_GATING,),
    ),
    "maple": Recipe(
        TOP_LLAMA,
        BLOCK_LLADA_MOE,
        moe=True,
        meta=(SWA_EVEN, SWA, ("swiglu_clamp_exp", [0.0, 0.0, 0.0, 0.0])),
    ),
    "spark2_5": Recipe(
        TOP_LLAMA,
        "attn_norm.weight:E attn_q.weight:E,E attn_k.weight:E,K attn_v.weight:E,K attn_gate.weight:E,4 "
        "attn_output.weight:E,E ffn_norm.weight:E ffn_gate.weight:E,F ffn_up.weight:E,F ffn_down.weight:F,E",
        moe=True,
        meta=(SWA, SWA_EVEN),
    ),
    "mimo2": Recipe(TOP_LLAMA, f"{QKVO} attn_norm.weight:E ffn_norm.weight:E", moe=True, meta=(SWA, SWA_EVEN)),
    "step35": Recipe(TOP_LLAMA, f"attn_norm.weight:E {QKVO} ffn_norm.weight:E", moe=True, meta=(SWA, SWA_EVEN)),
    "mistral4": Recipe(TOP_LLAMA, BLOCK_DEEPSEEK2, moe=True, meta=MLA_META),
    "deepseek2-ocr": Recipe(
        TOP_LLAMA,
        "attn_q.weight:E,E attn_k.weight:E,E attn_v.weight:E,E attn_output.weight:E,E ffn_norm.weight:E "
        "attn_norm.weight:E ffn_down.weight:F,E@0 ffn_up.weight:E,F@0 ffn_gate.weight:E,F@0 "
        "ffn_gate_inp.weight:E,X@1,2,3 ffn_down_exps.weight:FE,E,X@1,2,3 ffn_gate_exps.weight:E,FE,X@1,2,3 "
        "ffn_up_exps.weight:E,FE,X@1,2,3 ffn_gate_shexp.weight:E,FE@1,2,3 ffn_down_shexp.weight:FE,E@1,2,3 "
        "ffn_up_shexp.weight:E,FE@1,2,3",
        moe=True,
        meta=(("attention.head_count_kv", 4), ("rope.dimension_count", 8), DENSE_FIRST, SHARED_EXPERT),
    ),
    "talkie": Recipe(
        "token_embd.weight:E,V output.weight:E,V",
        f"{QKVO} attn_q_norm.weight:1,4 ffn_gate.weight:E,F ffn_up.weight:E,F ffn_down.weight:F,E "
        "layer_output_scale.weight:1",
        meta=(LOGIT_SCALE,),
    ),
    "mellum": Recipe(TOP_LLAMA, BLOCK_QWEN3MOE, moe=True, meta=(SWA,)),
    "pangu-embedded": Recipe(TOP_LLAMA, f"attn_norm.weight:E {QKVO} attn_output.bias:E ffn_norm.weight:E {FFN}"),
    "paddleocr": LLAMA,
    "cogvlm": Recipe(
        TOP_LLAMA,
        "attn_norm.weight:E attn_qkv.weight:E,192 attn_output.weight:E,E vis_attn_qkv.weight:E,192 "
        f"vis_attn_output.weight:E,E ffn_norm.weight:E {FFN} vis_gate.weight:E,F vis_down.weight:F,E "
        "vis_up.weight:E,F",
    ),
    "maincoder": Recipe(TOP_LLAMA, BLOCK_QWEN3),
    "nanbeige": LLAMA,
    "llama-embed": LLAMA,
    "rnd1": Recipe(TOP_LLAMA, BLOCK_QWEN3MOE, moe=True),
    "dream": LLAMA,
    "llada": LLAMA,
}
# fmt: on
