#!/usr/bin/env python3
"""Rebuilds runs/synthetic's stage records in the task's earlier format, the one the committed demo
model was trained on: reverse and ability-which recalls named only the answer's fact. The
questions are identical, so `litestage diagnose` can judge that model on its own format:

    litestage synth --out runs/synthetic --settings data/synthetic/settings.json
    python3 scripts/old-task-records.py        # -> runs/old-task/{train,valid}_stage_records.jsonl
"""
import json
import os
def old_recall(q):
    s = q['synthetic']
    if s['type'] in ('reverse', 'ability-which'):
        return s['analyses'][q['answer']].replace(', so this is correct.', '.')
    return s['recall']
os.makedirs('runs/old-task', exist_ok=True)
for split in ('train', 'valid'):
    qs = [json.loads(l) for l in open(f'runs/synthetic/{split}.jsonl')]
    recs = [json.loads(l) for l in open(f'runs/synthetic/{split}_stage_records.jsonl')]
    out = open(f'runs/old-task/{split}_stage_records.jsonl', 'w')
    i = 0
    for q in qs:
        new, old = q['synthetic']['recall'], old_recall(q)
        n = 2 + len(q['choices'])
        for r in recs[i:i + n]:
            assert (' ' + new + '\n') in r['input'] or r['input'].endswith('Recall:'), r
            r['input'] = r['input'].replace(' ' + new + '\n', ' ' + old + '\n')
            if 'recall' in r: r['recall'] = old
            out.write(json.dumps(r, ensure_ascii=False, separators=(',', ':')) + '\n')
        i += n
    assert i == len(recs)
print('ok')
