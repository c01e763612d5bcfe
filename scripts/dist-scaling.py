#!/usr/bin/env python3
"""Expected scaling of a multi-process LiteStage run, from a finished run's measured per-question
latencies (results.json of `litestage run`: rows[*].timing.per_question).

Each rank runs the questions i with i % W == rank; the ranks exchange results after every `round`
questions of their share (eval: 8) or once per configuration (search evaluation, timing,
importance). A rank waits at each exchange for the slowest rank, so the wall time of one pass is
the sum over exchanges of the largest share's time, plus the exchange itself (`--exchange-ms`, the
all-gather latency). This prints, per method, that time and the speedup over one process, for each
world size, assuming one device per rank as fast as the single process's.

usage: scripts/dist-scaling.py runs/demo/results.json [--ranks 1,2,4,8] [--round 8] [--exchange-ms 1]
"""
import argparse
import json


def pass_time(latencies, ranks, round_size, exchange):
    shares = [latencies[r::ranks] for r in range(ranks)]
    longest = max(len(s) for s in shares)
    step = round_size or longest
    total = 0.0
    for start in range(0, longest, step):
        total += max(sum(s[start:start + step]) for s in shares)
        total += exchange if ranks > 1 else 0.0
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results")
    ap.add_argument("--ranks", default="1,2,4,8")
    ap.add_argument("--round", type=int, default=8, help="questions per rank between exchanges (0: one exchange)")
    ap.add_argument("--exchange-ms", type=float, default=1.0)
    args = ap.parse_args()
    ranks = [int(x) for x in args.ranks.split(",")]
    rows = json.load(open(args.results))["rows"]
    seen = set()
    print(f"round = {args.round or 'one exchange'} questions per rank, exchange {args.exchange_ms} ms\n")
    print("| method | questions | 1 process s | " + " | ".join(f"{w} ranks s (speedup)" for w in ranks) + " |")
    print("|---|---:|---:|" + "---:|" * len(ranks))
    for row in rows:
        lat = row["timing"]["per_question"]
        key = (row["skip"], row["early_exit"])
        if key in seen:
            continue
        seen.add(key)
        one = sum(lat)
        cells = []
        for w in ranks:
            t = pass_time(lat, w, args.round, args.exchange_ms / 1000)
            cells.append(f"{t:.2f} ({one / t:.2f}x)")
        print(f"| {row['label']} | {len(lat)} | {one:.2f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
