"""carbonsweep's trial protocol for any Python training script (no dependencies).

Copy this file next to your script. carbonsweep runs your command once per
trial (`carbonsweep run --command "python3 train.py --lr {learning_rate}"`)
and reads what the trial says on stdout; every line it understands starts
with "@cs " and holds one JSON object (docs/trial-protocol.md).

    import carbonsweep_protocol as cs
    params = cs.params()                  # the trial's hyperparameters
    cs.start()
    for epoch in range(first_epoch, epochs + 1):
        ...train, evaluate...
        cs.epoch(epoch, val_accuracy=acc, examples=n_seen)   # budget, pruning, halving
        if cs.stop_requested(): ...save, cs.end("interrupted"); return
    cs.end("finished", val_accuracy=best, best_epoch=best_epoch)

Outside carbonsweep (no CARBONSWEEP_* variables) every call is harmless.
"""
import json
import os
import signal
import sys

PREFIX = "@cs "
_stop = {"requested": False}


def params():
    """The trial's hyperparameters: $CARBONSWEEP_PARAMS, else params.json in the work dir, else {}."""
    text = os.environ.get("CARBONSWEEP_PARAMS")
    if text:
        return json.loads(text)
    path = os.path.join(work_dir(), "params.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    return {}


def work_dir():
    """Where the trial keeps its checkpoint: the same directory when carbonsweep resumes it."""
    return os.environ.get("CARBONSWEEP_WORK_DIR", ".")


def trial_id():
    return int(os.environ.get("CARBONSWEEP_TRIAL_ID", "0"))


def stop_after_epoch():
    """Successive halving: pause (cs.end("paused")) after this epoch; 0 = run to the end."""
    return int(os.environ.get("CARBONSWEEP_STOP_AFTER_EPOCH", "0"))


def stop_requested():
    """True once carbonsweep asked the trial to stop (SIGTERM: budget, Ctrl-C, a carbon-aware hold)."""
    return _stop["requested"]


def _on_sigterm(signum, frame):
    _stop["requested"] = True


signal.signal(signal.SIGTERM, _on_sigterm)


def emit(event, **fields):
    """One event: printed for the orchestrator, appended to events.log for a resume after its death."""
    line = PREFIX + json.dumps(dict(event=event, **fields), allow_nan=False)
    print(line, flush=True)
    if "CARBONSWEEP_WORK_DIR" in os.environ:
        with open(os.path.join(work_dir(), "events.log"), "a", encoding="utf-8") as log:
            log.write(line + "\n")


def start(**info):
    emit("start", **info)


def epoch(number, val_accuracy, train_loss=None, val_loss=None, seconds=None, steps=None, examples=None):
    """After each epoch (numbered from 1). `examples` seen so far lets the budget predict the rest."""
    fields = {"epoch": number, "val_accuracy": val_accuracy}
    for key, value in (("train_loss", train_loss), ("val_loss", val_loss), ("seconds", seconds),
                       ("steps", steps), ("examples", examples)):
        if value is not None:
            fields[key] = value
    emit("epoch", **fields)


def end(state, val_accuracy=None, best_epoch=None, test_accuracy=None, seconds=None):
    """state: finished | diverged | paused | interrupted."""
    fields = {"state": state}
    for key, value in (("val_accuracy", val_accuracy), ("best_epoch", best_epoch),
                       ("test_accuracy", test_accuracy), ("seconds", seconds)):
        if value is not None:
            fields[key] = value
    emit("end", **fields)
    sys.stdout.flush()
