#!/usr/bin/env python3
"""Optuna's GPSampler (logEHVI, Optuna >= 4.4) on bench/multi-objective.ts's problems (its peer).

A constrained problem passes its constraint as `constraints_func` (logCEHVI) and prints each
point's constraint value (feasible where <= 0) beside the points.

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


def disc(x):
    """BoTorch's ConstrainedBraninCurrin constraint, feasible where <= 0 (bench/multi-objective.ts)."""
    return (15 * x[0] - 7.5) ** 2 + (15 * x[1] - 7.5) ** 2 - 50


# name: (dims, objectives, constraint or None)
PROBLEMS = {
    "branin-currin": (2, branin_currin, None),
    "zdt1": (4, zdt1, None),
    "dtlz2": (6, dtlz2, None),
    "branin-currin-disc": (2, branin_currin, disc),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--problem", required=True, choices=sorted(PROBLEMS))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--evals", type=int, default=60)
    args = parser.parse_args()
    dim, f, constraint = PROBLEMS[args.problem]
    for seed in range(args.seeds):
        kwargs = {} if constraint is None else {"constraints_func": lambda t: [t.user_attrs["c"]]}
        study = optuna.create_study(directions=["minimize", "minimize"], sampler=optuna.samplers.GPSampler(seed=seed, **kwargs))
        points = []
        constraints = []
        started = time.perf_counter()
        for _ in range(args.evals):
            trial = study.ask()
            x = [trial.suggest_float(f"x{j}", 0, 1) for j in range(dim)]
            values = f(x)
            if constraint is not None:
                trial.set_user_attr("c", constraint(x))
                constraints.append(constraint(x))
            study.tell(trial, values)
            points.append(values)
        line = {"seed": seed, "points": points, "optuna": optuna.__version__, "seconds": time.perf_counter() - started}
        if constraint is not None:
            line["constraints"] = constraints
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
