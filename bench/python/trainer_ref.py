#!/usr/bin/python3
"""The C++ trial's model and training loop, written the natural PyTorch way.

The reference for bench/trainer_bench.sh: same encoder as trials/encoder.h
(token + position embeddings, LayerNorm, pre-LN layers with one fused QKV
Linear, exact GELU, attention-probability dropout, final LayerNorm), same
head (mean over real tokens, dropout, Linear), same loop as
trials/finetune.cc (batches pooled 50 at a time and sorted by length, padded
to the batch's longest row; AdamW with decay on >1-D tensors only; linear
warmup then linear decay; a finite-loss check every step), same data file.
Run with Debian's /usr/bin/python3 (python3-torch 1.13), not another Python.

usage: trainer_ref.py --data FILE [--threads 2] [--batch 32] [--layers 4] [--dropout 0.1]
"""
import argparse
import math
import random
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class EncoderLayer(nn.Module):
    def __init__(self, hidden, heads, ff, dropout):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out_proj = nn.Linear(hidden, hidden)
        self.ff1 = nn.Linear(hidden, ff)
        self.ff2 = nn.Linear(ff, hidden)
        self.ln1 = nn.LayerNorm(hidden)
        self.ln2 = nn.LayerNorm(hidden)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, key_bias):
        batch, length, hidden = x.shape
        head_dim = hidden // self.heads
        q, k, v = self.qkv(self.ln1(x)).view(batch, length, 3, self.heads, head_dim).permute(2, 0, 3, 1, 4)
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(head_dim)
        probs = self.dropout(torch.softmax(scores + key_bias, dim=-1))
        context = torch.matmul(probs, v).transpose(1, 2).reshape(batch, length, hidden)
        h = x + self.dropout(self.out_proj(context))
        return h + self.dropout(self.ff2(self.dropout(F.gelu(self.ff1(self.ln2(h))))))


class Encoder(nn.Module):
    def __init__(self, vocab, hidden=128, layers=4, heads=4, ff=512, max_positions=512, dropout=0.1):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, hidden)
        self.position_embedding = nn.Embedding(max_positions, hidden)
        self.embedding_norm = nn.LayerNorm(hidden)
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList([EncoderLayer(hidden, heads, ff, dropout) for _ in range(layers)])
        self.final_norm = nn.LayerNorm(hidden)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, 0.0, 0.02)
            if isinstance(module, nn.Linear):
                nn.init.zeros_(module.bias)

    def forward(self, ids, mask):
        length = ids.shape[1]
        positions = torch.arange(length)
        x = self.dropout(self.embedding_norm(self.token_embedding(ids) + self.position_embedding(positions).unsqueeze(0)))
        key_bias = (mask.eq(0).float() * -1e9).view(ids.shape[0], 1, 1, length)
        for layer in self.layers:
            x = layer(x, key_bias)
        return self.final_norm(x)


class Classifier(nn.Module):
    def __init__(self, encoder, hidden, classes, dropout):
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, classes)

    def forward(self, ids, mask):
        hidden = self.encoder(ids, mask)
        weights = mask.to(hidden.dtype).unsqueeze(-1)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        return self.head(self.dropout(pooled))


def read_data(path):
    rows = []
    with open(path) as f:
        for line in f:
            fields = [int(x) for x in line.split()]
            rows.append((fields[0], fields[2:2 + fields[1]]))
    return rows


def epoch_batches(rows, batch_size, rng):
    order = list(range(len(rows)))
    rng.shuffle(order)
    pool = batch_size * 50
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start:start + pool], key=lambda i: -len(rows[i][1]))
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def make_batch(rows, indices):
    longest = max(len(rows[i][1]) for i in indices)
    ids = torch.zeros(len(indices), longest, dtype=torch.long)
    mask = torch.zeros(len(indices), longest, dtype=torch.long)
    for r, i in enumerate(indices):
        tokens = rows[i][1]
        ids[r, :len(tokens)] = torch.tensor(tokens)
        mask[r, :len(tokens)] = 1
    labels = torch.tensor([rows[i][0] for i in indices])
    return ids, mask, labels


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)

    rows = read_data(args.data)
    model = Classifier(Encoder(args.vocab, layers=args.layers, dropout=args.dropout), 128, 2, args.dropout)
    nn.init.normal_(model.head.weight, 0.0, 0.02)
    nn.init.zeros_(model.head.bias)
    decay = [p for p in model.parameters() if p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.dim() <= 1]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    batches = epoch_batches(rows, args.batch, random.Random(0))
    total = len(batches)
    warmup = math.ceil(0.1 * total)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: (step + 1) / warmup if step < warmup else max(0, total - step) / max(1, total - warmup))

    model.train()
    train_seconds = 0.0
    examples = 0
    for indices in batches:
        start = time.perf_counter()
        ids, mask, labels = make_batch(rows, indices)
        loss = F.cross_entropy(model(ids, mask), labels)
        if not math.isfinite(loss.item()):
            raise SystemExit("diverged")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        train_seconds += time.perf_counter() - start
        examples += len(indices)
    max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("python seq_per_s=%.2f max_rss_mb=%.1f rows=%d batch=%d threads=%d dropout=%.2f" %
          (examples / train_seconds, max_rss_mb, len(rows), args.batch, args.threads, args.dropout))


if __name__ == "__main__":
    main()
