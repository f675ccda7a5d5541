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

import numpy as np
import optuna

warnings.filterwarnings("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)

_HA = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_HP = np.array([
    [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
    [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
    [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.665],
    [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
])
_HALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def branin(x):
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    return (x[1] - b * x[0] ** 2 + c * x[0] - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x[0]) + 10


def hartmann6(x):
    x = np.asarray(x)
    return float(-(_HALPHA * np.exp(-(_HA * (x - _HP) ** 2).sum(axis=1))).sum())


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
