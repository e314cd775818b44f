"""One process run under cachegrind (this machine has no hardware counters): its user-space instructions."""

import subprocess  # nosec B404
import sys


def instructions(args: list[str], cwd: str | None = None) -> tuple[float, str]:
    """(instructions, stdout) of `python ARGS` run under cachegrind without its cache simulation."""
    proc = subprocess.run(  # nosec B603
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", sys.executable, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
    )
    refs = next(line for line in proc.stderr.splitlines() if "I" in line and "refs:" in line)
    return float(refs.split(":")[1].replace(",", "")), proc.stdout
