#!/usr/bin/env python3
"""The bf16 products of one prompt through a model's layers, alone: LibTorch's bf16 `mm` (oneDNN
on CPU) at the shapes a prompt of --prompt-len tokens multiplies (q/k/v and gate/up fused, as
LiteStage runs them), their GFLOP/s weighted by FLOPs, beside a square 1024^3 product. Both sides
of `scripts/bench-peer.sh --dtype bf16` run these products, so this bounds what either gains by
cutting the rest of a prompt's work.

Needs Debian's python3-torch (optional: nothing else in the project uses it).
"""
import argparse
import json
import statistics
import time

import torch


def products(cfg):
    """(N, K) of each product of a layer: y (M, N) = x (M, K) W^T."""
    hidden, inner = cfg["hidden_size"], cfg["intermediate_size"]
    heads = cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads", heads)
    dim = cfg.get("head_dim", hidden // heads)
    return {"q/k/v": ((heads + 2 * kv) * dim, hidden), "o": (hidden, heads * dim),
            "gate/up": (2 * inner, hidden), "down": (hidden, inner)}


def gflops(m, n, k, repeats):
    a = torch.randn(m, k).bfloat16()
    b = torch.randn(k, n).bfloat16()
    for _ in range(3):
        a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * m * n * k / statistics.median(times) / 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="bench/tinyllama-1.1b-config.json", help="a model's config.json")
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=15, help="timed calls per product (median)")
    args = ap.parse_args()
    if args.prompt_len < 1 or args.threads < 1 or args.rounds < 1 or args.repeats < 1:
        ap.error("--prompt-len, --threads, --rounds and --repeats must be at least 1")
    with open(args.config) as f:
        cfg = json.load(f)
    torch.set_num_threads(args.threads)
    shapes = products(cfg)
    for r in range(1, args.rounds + 1):
        flop = seconds = 0.0
        parts = []
        for name, (n, k) in shapes.items():
            rate = gflops(args.prompt_len, n, k, args.repeats)
            flop += 2 * args.prompt_len * n * k
            seconds += 2 * args.prompt_len * n * k / rate / 1e9
            parts.append(f"{name} {n}x{k}: {rate:.0f}")
        square = gflops(1024, 1024, 1024, max(3, args.repeats // 2))
        print(f"round {r}: the prompt's products {flop / seconds / 1e9:.0f} GFLOP/s ({', '.join(parts)}); "
              f"1024^3 {square:.0f} GFLOP/s")


if __name__ == "__main__":
    main()
