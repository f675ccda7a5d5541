#!/usr/bin/env python3
"""Optuna's GPSampler (logEHVI, Optuna >= 4.4) on bench/multi-objective.ts's problems (its peer).

Runs `--seeds` studies (seeds 0..k-1) of `--evals` trials each, GPSampler(seed=seed) with its
defaults, both objectives minimized, and prints one JSON line per seed with every evaluated
objective pair (bench/multi-objective.ts computes the hypervolume), the Optuna version and the
wall time.

    $PY bench/optuna-multi-objective.py --problem branin-currin --seeds 10 --evals 60

$PY: a Python with Optuna >= 4.4 and torch (bench/quality.md says how one was set up here).
Called by `npx tsx bench/multi-objective.ts --peer-python $PY`.
"""
import argparse
import json
import math
import time
import warnings

import optuna

warnings.filterwarnings("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)


def branin_currin(x):
    a, b = 15 * x[0] - 5, 15 * x[1]
    branin = (b - 5.1 / (4 * math.pi**2) * a * a + 5 / math.pi * a - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(a) + 10
    factor = 1 - math.exp(-1 / (2 * max(x[1], 1e-12)))
    currin = factor * (2300 * x[0] ** 3 + 1900 * x[0] ** 2 + 2092 * x[0] + 60) / (100 * x[0] ** 3 + 500 * x[0] ** 2 + 4 * x[0] + 20)
    return [branin, currin]


def zdt1(x):
    g = 1 + 9 / (len(x) - 1) * sum(x[1:])
    return [x[0], g * (1 - math.sqrt(x[0] / g))]


def dtlz2(x):
    g = sum((v - 0.5) ** 2 for v in x[1:])
    return [(1 + g) * math.cos(x[0] * math.pi / 2), (1 + g) * math.sin(x[0] * math.pi / 2)]


PROBLEMS = {"branin-currin": (2, branin_currin), "zdt1": (4, zdt1), "dtlz2": (6, dtlz2)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--problem", required=True, choices=sorted(PROBLEMS))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--evals", type=int, default=60)
    args = parser.parse_args()
    dim, f = PROBLEMS[args.problem]
    for seed in range(args.seeds):
        study = optuna.create_study(directions=["minimize", "minimize"], sampler=optuna.samplers.GPSampler(seed=seed))
        points = []
        started = time.perf_counter()
        for _ in range(args.evals):
            trial = study.ask()
            x = [trial.suggest_float(f"x{j}", 0, 1) for j in range(dim)]
            values = f(x)
            study.tell(trial, values)
            points.append(values)
        print(json.dumps({"seed": seed, "points": points, "optuna": optuna.__version__, "seconds": time.perf_counter() - started}), flush=True)


if __name__ == "__main__":
    main()
