#!/usr/bin/env python3
"""Optuna's GPSampler with constraints_func on bench/constrained.ts's problems (its peer).

Runs `--seeds` studies (seeds 0..k-1) of `--evals` trials each, GPSampler(seed=seed,
constraints_func=...) with its defaults otherwise, minimizing; the objective stores the constraint
values in a user attribute and constraints_func reads them back, as bench/constrained.ts does.
Prints one JSON line per seed: the best feasible value after each evaluation (null before the
first feasible one), the Optuna version and the wall time.

    $PY bench/optuna-constrained.py --problem gramacy --seeds 10 --evals 60

$PY: a Python with Optuna >= 4.2 and torch (bench/quality.md says how one was set up here).
Called by `npx tsx bench/constrained.ts --peer-python $PY`.
"""
import argparse
import json
import math
import time
import warnings

import optuna

from peer_functions import branin, hartmann6

warnings.filterwarnings("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)

PROBLEMS = {
    "gramacy": (
        [(0, 1), (0, 1)],
        lambda x: x[0] + x[1],
        lambda x: [1.5 - x[0] - 2 * x[1] - 0.5 * math.sin(2 * math.pi * (x[0] ** 2 - 2 * x[1])), x[0] ** 2 + x[1] ** 2 - 1.5],
    ),
    "branin-disc": ([(-5, 10), (0, 15)], branin, lambda x: [(x[0] - 2.5) ** 2 + (x[1] - 7.5) ** 2 - 50]),
    "hartmann6-sum": ([(0, 1)] * 6, hartmann6, lambda x: [sum(x) - 1.5]),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--problem", required=True, choices=sorted(PROBLEMS))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--evals", type=int, default=60)
    args = parser.parse_args()
    bounds, f, c = PROBLEMS[args.problem]
    for seed in range(args.seeds):
        sampler = optuna.samplers.GPSampler(seed=seed, constraints_func=lambda t: t.user_attrs["c"])
        study = optuna.create_study(direction="minimize", sampler=sampler)
        trace = []
        best = math.inf
        started = time.perf_counter()
        for _ in range(args.evals):
            trial = study.ask()
            x = [trial.suggest_float(f"x{j}", lo, hi) for j, (lo, hi) in enumerate(bounds)]
            cons = c(x)
            trial.set_user_attr("c", cons)
            value = f(x)
            study.tell(trial, value)
            if all(v <= 0 for v in cons):
                best = min(best, value)
            trace.append(None if math.isinf(best) else best)
        print(json.dumps({"seed": seed, "trace": trace, "optuna": optuna.__version__, "seconds": time.perf_counter() - started}), flush=True)


if __name__ == "__main__":
    main()
