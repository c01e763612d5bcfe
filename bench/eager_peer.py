#!/usr/bin/env python3
"""A Hugging Face-style PyTorch eager Llama/Qwen2 decode loop: the peer `litestage bench` is
compared with (scripts/bench-peer.sh). Written the way transformers' eager path runs: an nn.Module
per sub-layer (separate q/k/v and gate/up nn.Linear), a KV cache grown with torch.cat, rotary
cos/sin recomputed every step, repeat_kv for grouped-query attention, lm_head on the last position.

Needs Debian's python3-torch (optional: nothing else in the project uses it). Loads an HF-layout
checkpoint directory (config.json + model.safetensors, read here without the safetensors package)
or builds random weights from a config.json. Prints one JSON line: prefill tokens/s and decode
ms/token, medians over --repeats after --warmup.
"""
import argparse
import json
import math
import os
import statistics
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16}
ST_DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[base + begin:base + end]), dtype=ST_DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"])
    return out


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads, self.kv_heads = c["num_attention_heads"], c["num_key_value_heads"]
        self.head_dim = c.get("head_dim") or c["hidden_size"] // self.heads
        self.theta = c.get("rope_theta", 10000.0)
        bias = c["model_type"] == "qwen2" or c.get("attention_bias", False)
        h = c["hidden_size"]
        self.q_proj = nn.Linear(h, self.heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(h, self.kv_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(h, self.kv_heads * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(self.heads * self.head_dim, h, bias=c.get("attention_bias", False))

    def rotary(self, positions, dtype):  # recomputed every call, as the eager path does
        inv = 1.0 / (self.theta ** (torch.arange(0, self.head_dim, 2, dtype=torch.int64).float() / self.head_dim))
        freqs = positions.float()[:, None] * inv[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(dtype), emb.sin().to(dtype)

    def forward(self, x, positions, cache):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.kv_heads, self.head_dim).transpose(1, 2)
        cos, sin = self.rotary(positions, x.dtype)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            k = torch.cat((cache[0], k), dim=2)
            v = torch.cat((cache[1], v), dim=2)
        new_cache = (k, v)
        groups = self.heads // self.kv_heads
        k = k.repeat_interleave(groups, dim=1)
        v = v.repeat_interleave(groups, dim=1)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim)
        if T > 1:
            S = k.shape[2]
            mask = torch.full((T, S), float("-inf")).triu(S - T + 1)
            scores = scores + mask.to(scores.dtype)
        probs = F.softmax(scores.float(), dim=-1).to(q.dtype)
        out = torch.matmul(probs, v).transpose(1, 2).reshape(B, T, -1)
        return self.o_proj(out), new_cache


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, i = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(h, i, bias=False)
        self.up_proj = nn.Linear(h, i, bias=False)
        self.down_proj = nn.Linear(i, h, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = MLP(c)
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])

    def forward(self, x, positions, cache):
        a, cache = self.self_attn(self.input_layernorm(x), positions, cache)
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x)), cache


class Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])


class CausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.model = Model(c)
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        if c.get("tie_word_embeddings", False):
            self.lm_head.weight = self.model.embed_tokens.weight

    def forward(self, ids, start, caches):
        positions = torch.arange(start, start + ids.shape[1])
        x = self.model.embed_tokens(ids)
        new = []
        for layer, cache in zip(self.model.layers, caches):
            x, cache = layer(x, positions, cache)
            new.append(cache)
        return self.lm_head(self.model.norm(x[:, -1:, :])), new


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="HF checkpoint directory (config.json, model.safetensors)")
    src.add_argument("--config", help="config.json for random weights")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="f32")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--gen-len", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    cfg_path = os.path.join(a.model, "config.json") if a.model else a.config
    with open(cfg_path) as f:
        c = json.load(f)
    c.setdefault("num_key_value_heads", c["num_attention_heads"])
    m = CausalLM(c)
    if a.model:
        state = read_safetensors(os.path.join(a.model, "model.safetensors"))
        state = {k: v.float() for k, v in state.items() if "rotary_emb" not in k}
        if c.get("tie_word_embeddings", False):
            state.pop("lm_head.weight", None)
            state["lm_head.weight"] = state["model.embed_tokens.weight"]
        m.load_state_dict(state, strict=True)
    m = m.to(DTYPES[a.dtype]).eval()
    prompt = torch.randint(0, c["vocab_size"], (1, a.prompt_len))
    prefill, decode = [], []
    with torch.inference_mode():
        for rep in range(a.warmup + a.repeats):
            t0 = time.perf_counter()
            logits, caches = m(prompt, 0, [None] * len(m.model.layers))
            nxt = logits.argmax(-1)
            t1 = time.perf_counter()
            for g in range(a.gen_len):
                logits, caches = m(nxt, a.prompt_len + g, caches)
                nxt = logits.argmax(-1)
                int(nxt.item())
            t2 = time.perf_counter()
            if rep >= a.warmup:
                prefill.append(t1 - t0)
                decode.append((t2 - t1) / a.gen_len)
    print(json.dumps({"peer": "pytorch-eager", "torch": torch.__version__, "dtype": a.dtype, "threads": a.threads,
                      "prompt_len": a.prompt_len, "gen_len": a.gen_len, "repeats": a.repeats,
                      "prefill_tok_s": a.prompt_len / statistics.median(prefill),
                      "decode_ms": 1e3 * statistics.median(decode),
                      "decode_ms_min": 1e3 * min(decode), "decode_ms_max": 1e3 * max(decode)}))


if __name__ == "__main__":
    main()
