"""What a room of open consoles costs the lab daemon: its CPU per second with one console streaming,
then with many, in one run on one lab (the ratio is the figure; the budget is 1.5x).

Each console is a real Server-Sent Events stream of the trainee view, read as a browser reads it,
under a light background load so the panels change. Every stream of one view shares one render loop
(chaoslab/console/broadcast.py), so the second figure should stay close to the first.

    python -m bench.console_viewers [--viewers 30] [--seconds 30]
"""

from __future__ import annotations

import argparse
import threading
import time

import psutil
import requests

from bench.labs import BenchLab


def stream(url: str, stop: threading.Event, frames: list[int]) -> None:
    with requests.get(url, params={"view": "trainee", "window": 60}, stream=True, timeout=30) as answer:
        answer.raise_for_status()
        for line in answer.iter_lines(decode_unicode=True):
            if line.startswith("data: "):
                frames.append(1)
            if stop.is_set():
                return


def cpu_per_second(daemon: psutil.Process, url: str, viewers: int, seconds: float) -> tuple[float, int]:
    """(the daemon's CPU seconds per wall second, frames received) with ``viewers`` streams open."""
    stop, frames = threading.Event(), []
    threads = [threading.Thread(target=stream, args=(url, stop, frames), daemon=True) for _ in range(viewers)]
    for t in threads:
        t.start()
    time.sleep(5)  # every stream open and past its first frame
    before, started = daemon.cpu_times(), time.monotonic()
    time.sleep(seconds)
    after, wall = daemon.cpu_times(), time.monotonic() - started
    stop.set()
    for t in threads:
        t.join(timeout=10)
    used = (after.user - before.user) + (after.system - before.system)
    return used / wall, len(frames)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    with BenchLab("console-viewers") as lab:
        print("starting a lab…", flush=True)
        lab.cli("up")
        lab.cli("load", "start", "-u", "2", "-r", "2")
        url = lab.cli("console", "--no-open").stdout.strip().removeprefix("console: ") + "stream"
        daemon = psutil.Process(lab.status()["lab"]["pid"])
        print(f"one console for {args.seconds:g} s…", flush=True)
        one, one_frames = cpu_per_second(daemon, url, 1, args.seconds)
        print(f"{args.viewers} consoles for {args.seconds:g} s…", flush=True)
        many, many_frames = cpu_per_second(daemon, url, args.viewers, args.seconds)
    print(f"daemon CPU, 1 console:  {one:.3f} s/s ({one_frames} frames)")
    print(f"daemon CPU, {args.viewers} consoles: {many:.3f} s/s ({many_frames} frames)")
    print(f"ratio: {many / one:.2f}x (budget 1.5x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
