"""``grokviz bench …``: speed and memory benchmarks, reported against a baseline run in-process.

The top layer (design.md §1): it may import everything below, and nothing imports it; the
command line registers it by name (:func:`grokviz.cli._extensions`).
"""

from __future__ import annotations

import json

from grokviz.core.cli_options import at_least_one


def register(subparsers) -> None:
    bench = subparsers.add_parser("bench", help="benchmarks (ratios against an in-process baseline)")
    bench.add_argument("what", choices=["train", "analysis", "gui", "sweep"])
    bench.add_argument("--p", default=None, help="comma-separated moduli")
    bench.add_argument("--json", action="store_true")
    bench.add_argument("--quick", action="store_true", help="fewer repetitions")
    bench.add_argument("--rounds", type=at_least_one, default=None,
                       help="train: trainer runs, each with a, b and c interleaved window by window (default 3)")
    bench.set_defaults(handler=dispatch)


def dispatch(args) -> int:
    if args.what == "train":
        from grokviz.bench.train import run_benchmark
    elif args.what == "analysis":
        from grokviz.bench.analysis import run_benchmark
    elif args.what == "gui":
        from grokviz.gui.benchmark import run_benchmark
    else:
        from grokviz.bench.sweep import run_benchmark
    result = run_benchmark(args)
    if args.json:
        print(json.dumps(result, indent=2))
    return 0 if result.get("ok", True) else 1
