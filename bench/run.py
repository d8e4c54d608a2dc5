"""Run every benchmark and print one Markdown table of ratios against same-run baselines.

Usage: .venv/bin/python bench/run.py [--quick]    (needs wrk: apt-get install wrk)
"""

import argparse
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import decrypt, submit, upload


def main() -> None:
    """Run the benchmarks and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the script runs")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of the web benchmark")
    args = parser.parse_args()
    rows = submit.run(3 if args.quick else 10, 1 if args.quick else args.rounds)
    rows += upload.run(1 if args.quick else 3)
    rows += decrypt.run(200 if args.quick else 10_000)
    print(f"Python {platform.python_version()}, {platform.machine()}, {sys.platform}\n")
    print("| measure | result | ratio to baseline | CPU ms per request |")
    print("|---|---|---|---|")
    for measure, value, ratio, *cpu in rows:
        print(f"| {measure} | {value} | {ratio} | {cpu[0] if cpu else ''} |")


if __name__ == "__main__":
    main()
