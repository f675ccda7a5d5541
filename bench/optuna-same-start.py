#!/usr/bin/env python3
"""Optuna's GPSampler from Kestrel's initial design: is a difference in search quality the GP loop's
or the initial design's?

Reads the traces that `bench/quality.ts --trace DIR` writes (every evaluated point of each Kestrel
run) and, for each trace of the chosen function and sampler, runs Optuna's GPSampler (seed = the
trace's seed, defaults otherwise) on the same function for the same number of evaluations, with
the trace's first `--startup` points enqueued as Optuna's first trials (`study.enqueue_trial`), so
both samplers start from the same design. `--own` skips the enqueueing (Optuna's own random
startup) for comparison; `--save-trace DIR` writes Optuna's runs in the trace format, which
`bench/quality.ts --start-from DIR` reads to start Kestrel from Optuna's design. Prints one JSON line per seed (Kestrel's and Optuna's regret after each
evaluation count, from the trace and from the Optuna run) and a summary: median regret of each,
and how many seeds each leaves above `--stuck` regret (default 0.01), and on how many seeds the two
agree on that.

    npx tsx bench/quality.ts --functions hartmann6 --samplers gp --seeds 40 --evals 30,60,100 \\
        --backend cpu --threads 1 --trace /tmp/traces
    $PY bench/optuna-same-start.py --trace /tmp/traces --function hartmann6 [--shard 0/2] [--own]

$PY: a Python with Optuna >= 4 and torch (bench/quality.md says how one was set up here).
"""
import argparse
import glob
import json
import math
import os
import re
import sys
import time
import warnings

import numpy as np
import optuna

from peer_functions import branin, hartmann6

warnings.filterwarnings("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)


def ackley(x):
    x = np.asarray(x)
    d = len(x)
    return float(-20 * math.exp(-0.2 * math.sqrt((x**2).sum() / d)) - math.exp(np.cos(2 * math.pi * x).sum() / d) + 20 + math.e)


def rosenbrock(x):
    return float(sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(len(x) - 1)))


def levy(x):
    w = [1 + (v - 1) / 4 for v in x]
    s = math.sin(math.pi * w[0]) ** 2
    for i in range(len(w) - 1):
        s += (w[i] - 1) ** 2 * (1 + 10 * math.sin(math.pi * w[i] + 1) ** 2)
    return s + (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)


# Name -> (function, known minimum); the same as bench/quality.ts.
FUNCTIONS = {
    "branin": (branin, 0.397887357729738),
    "hartmann6": (hartmann6, -3.32236801141551),
    "ackley10": (ackley, 0.0),
    "rosenbrock8": (rosenbrock, 0.0),
    "levy10": (levy, 0.0),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trace", required=True)
    ap.add_argument("--function", required=True, choices=sorted(FUNCTIONS))
    ap.add_argument("--sampler", default="gp")
    ap.add_argument("--startup", type=int, default=10)
    ap.add_argument("--evals", default="30,60,100")
    ap.add_argument("--stuck", type=float, default=0.01)
    ap.add_argument("--shard", default="0/1")
    ap.add_argument("--own", action="store_true")
    ap.add_argument("--save-trace", default=None, help="write each Optuna run as DIR/<function>-optuna-<seed>.json")
    args = ap.parse_args()
    fn, fmin = FUNCTIONS[args.function]
    evals = [int(e) for e in args.evals.split(",")]
    shard, shards = (int(v) for v in args.shard.split("/"))
    # Exactly <function>-<sampler>-<seed>.json: the glob alone also matches gp-pm, gp-det, gp-mean for gp.
    pattern = re.compile(rf"{re.escape(args.function)}-{re.escape(args.sampler)}-(\d+)\.json")
    files = sorted((f for f in glob.glob(os.path.join(args.trace, f"{args.function}-{args.sampler}-*.json"))
                    if pattern.fullmatch(os.path.basename(f))),
                   key=lambda f: int(pattern.fullmatch(os.path.basename(f)).group(1)))
    files = files[shard::shards]
    if not files:
        sys.exit(f"no traces {args.function}-{args.sampler}-*.json in {args.trace}")
    rows = []
    for path in files:
        trace = json.load(open(path))
        names, bounds = trace["names"], trace["bounds"]
        n = min(max(evals), len(trace["values"]))
        dists = {nm: optuna.distributions.FloatDistribution(lo, hi) for nm, (lo, hi) in zip(names, bounds)}
        study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=trace["seed"]))
        if not args.own:
            for p in trace["params"][: args.startup]:
                study.enqueue_trial(dict(zip(names, p)))
        t0 = time.time()
        study.optimize(lambda t: fn([t.suggest_float(nm, dists[nm].low, dists[nm].high) for nm in names]), n_trials=n)
        values = [t.value for t in study.trials]
        row = {
            "seed": trace["seed"],
            "function": args.function,
            "optuna": optuna.__version__,
            "startup": "optuna-own" if args.own else f"kestrel-first-{args.startup}",
            "kestrelRegret": {str(e): min(trace["values"][:e]) - fmin for e in evals if e <= len(trace["values"])},
            "optunaRegret": {str(e): min(values[:e]) - fmin for e in evals if e <= n},
            "seconds": round(time.time() - t0, 1),
        }
        if args.save_trace is not None:
            os.makedirs(args.save_trace, exist_ok=True)
            with open(os.path.join(args.save_trace, f"{args.function}-optuna-{trace['seed']}.json"), "w") as out:
                json.dump({"function": args.function, "sampler": "optuna", "seed": trace["seed"], "names": names, "bounds": bounds,
                           "params": [[t.params[nm] for nm in names] for t in study.trials], "values": values}, out)
        rows.append(row)
        print(json.dumps(row), flush=True)
    for e in (str(e) for e in evals):
        k = [r["kestrelRegret"][e] for r in rows if e in r["kestrelRegret"]]
        o = [r["optunaRegret"][e] for r in rows if e in r["optunaRegret"]]
        if not k or not o:
            continue
        ks = [v > args.stuck for v in k]
        os_ = [v > args.stuck for v in o]
        agree = sum(a == b for a, b in zip(ks, os_))
        print(json.dumps({"summary": e, "seeds": len(k), "kestrelMedian": float(np.median(k)), "optunaMedian": float(np.median(o)),
                          "kestrelStuck": sum(ks), "optunaStuck": sum(os_), "stuckAgree": agree, "stuckThreshold": args.stuck}),
              flush=True)


if __name__ == "__main__":
    main()
