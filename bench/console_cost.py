"""What an open console costs the lab: checkout capacity (bench/capacity's measure) and the lab daemon's
resident memory, with the console closed and with it open and updating in a real browser, in one run.

First bench/capacity's measure with the console closed, then open (rising users, the best rate within
the SLO's p95), then a fixed load with the console closed and open in alternation, whose pairwise
ratio is steadier on a shared machine; the CPU the daemon and the browser spend is measured directly,
since on a busy machine it says more than a throughput. Last, the daemon's CPU with one console
streaming and with a room of them (``--viewers``) at once. The budget: capacity drops at most 5 %,
the daemon grows at most 30 MiB, and thirty consoles cost it at most 1.5 times what one does.

    python -m bench.console_cost [--steps 2,4,8,16] [--step-s 15] [--rounds 2] [--users 8] [--pairs 6] [--viewers 30]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import tempfile
import threading
import time

import psutil

from bench.capacity import SLO_P95_MS, step
from bench.console_viewers import cpu_per_second
from bench.labs import BenchLab
from chaoslab.backend import LoadProfile
from chaoslab.console import headless
from chaoslab.loadtest.runner import LoadPlan, LocustRun
from chaoslab.local.ports import free_port

MIB = 1024 * 1024


class PeakRss:
    """The highest resident memory of one process, sampled every half second while in use, and the CPU
    it used per second of wall time (less at the mercy of a busy machine than a throughput)."""

    def __init__(self, pid: int):
        self.process = psutil.Process(pid)
        self.peak = self.process.memory_info().rss
        self.cpu_per_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._started = (time.monotonic(), sum(self.process.cpu_times()[:2]))

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()
        wall, cpu = time.monotonic() - self._started[0], sum(self.process.cpu_times()[:2]) - self._started[1]
        self.cpu_per_s = cpu / wall if wall else 0.0


def measure(host: str, steps: list[int], step_s: float, label: str) -> tuple[float, float]:
    """(capacity: the best checkout rate of a step within the SLO's p95, saturation: the best rate of any
    step) over rising user counts of the checkout-only journey; on a busy machine the first may be 0."""
    run = LocustRun(LoadPlan(host=host, profile=LoadProfile(steps[0], steps[0], 0, "rush")), free_port()).start()
    best_within, best = 0.0, 0.0
    try:
        print(f"{label}:")
        for users in steps:
            rate, p95 = step(run, users, step_s)
            within = p95 is not None and p95 <= SLO_P95_MS
            print(f"  {users:>3} users  {rate:7.1f} checkouts/s  P95 {p95} ms  {'ok' if within else 'over SLO'}")
            best = max(best, rate)
            if within:
                best_within = max(best_within, rate)
    finally:
        run.stop()
    return best_within, best


@contextlib.contextmanager
def console_open(url: str):
    """Headless Chromium showing the console's trainee view, taking its updates, until the block ends."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="console-bench-chromium-")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch_persistent_context(
                profile, executable_path=headless.chromium(), args=headless.FLAGS
            )
            page = browser.new_page()
            page.goto(url)
            page.wait_for_function("document.getElementById('live').textContent.startsWith('live')", timeout=30000)
            try:
                yield page
            finally:
                browser.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def browser_cpu() -> float:
    """CPU seconds so far of the Chromium processes this benchmark started (it runs on the lab's machine
    too, so what it spends on the console counts)."""
    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            if "chrom" in child.name() or "headless" in child.name():
                total += sum(child.cpu_times()[:2])
        except psutil.NoSuchProcess:
            continue
    return total


def interleaved(front: str, url: str, daemon: int, users: int, step_s: float, pairs: int) -> dict[str, list]:
    """Checkout throughput at a fixed load, the console closed (the tab on about:blank) and open in
    alternation, ``pairs`` times (in ABBA order): neighbouring windows share the machine's mood, so the
    median of the pairwise ratios is what the console costs, whatever else runs."""
    found: dict[str, list] = {k: [] for k in ("closed", "open", "cpu_closed", "cpu_open")}
    found |= {"browser_closed": [], "browser_open": []}
    run = LocustRun(LoadPlan(host=front, profile=LoadProfile(users, users, 0, "rush")), free_port()).start()
    try:
        with console_open(url) as page:
            print(f"alternating at {users} users, {step_s:g} s each:")
            for pair in range(1, pairs + 1):
                # ABBA order: a lab under checkout load slows as its tables grow, so the second window
                # of a pair would always lose; alternating which goes first cancels that drift.
                for mode in ("closed", "open") if pair % 2 else ("open", "closed"):
                    if mode == "closed":
                        page.goto("about:blank")
                    else:
                        page.goto(url)
                        page.wait_for_function(
                            "document.getElementById('live').textContent.startsWith('live')", timeout=30000
                        )
                    browser_before, started = browser_cpu(), time.monotonic()
                    with PeakRss(daemon) as rss:
                        rate, p95 = step(run, users, step_s)
                    browser = (browser_cpu() - browser_before) / (time.monotonic() - started)
                    found[mode].append(rate)
                    found[f"cpu_{mode}"].append(rss.cpu_per_s)
                    found[f"browser_{mode}"].append(browser)
                    print(
                        f"  pair {pair} console {mode:<6} {rate:6.1f} checkouts/s  P95 {p95} ms  "
                        f"daemon CPU {rss.cpu_per_s:.1%}, Chromium {browser:.1%}"
                    )
    finally:
        run.stop()
    return found


def summarise(rates: dict, saturation: dict, peaks: dict, cpu: dict) -> None:
    closed, opened = statistics.mean(rates["closed"]), statistics.mean(rates["open"])
    drop = (1 - opened / closed) if closed else float("nan")
    full_closed, full_open = statistics.mean(saturation["closed"]), statistics.mean(saturation["open"])
    full_drop = (1 - full_open / full_closed) if full_closed else float("nan")
    growth = (max(peaks["open"]) - max(peaks["closed"])) / MIB
    print(
        f"capacity: console closed {closed:.1f}/s, open {opened:.1f}/s: a drop of {drop:.1%} (budget 5 %)\n"
        f"saturation: console closed {full_closed:.1f}/s, open {full_open:.1f}/s: a drop of {full_drop:.1%}\n"
        f"lab daemon peak memory: closed {max(peaks['closed']) / MIB:.0f} MiB, open {max(peaks['open']) / MIB:.0f}"
        f" MiB: {growth:+.0f} MiB with the console open (budget 30 MiB)\n"
        f"lab daemon CPU under load: closed {statistics.mean(cpu['closed']):.1%} of a core, open "
        f"{statistics.mean(cpu['open']):.1%}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="2,4,8,16")
    parser.add_argument("--step-s", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=2, help="capacity rounds (closed, open) over --steps; 0: none")
    parser.add_argument("--users", type=int, default=8, help="users of the alternating fixed-load runs")
    parser.add_argument("--pairs", type=int, default=6, help="closed/open pairs at --users")
    parser.add_argument("--viewers", type=int, default=30, help="consoles streaming at once in the last stage; 0: none")
    args = parser.parse_args()
    steps = [int(s) for s in args.steps.split(",")]
    from chaoslab import console

    with BenchLab("console-cost") as lab:
        lab.cli("up")
        status = lab.status()
        daemon = status["lab"]["pid"]
        front = lab.url("service-a")
        url = console.url(status["lab"]["api"])
        print(f"lab daemon {daemon}: {psutil.Process(daemon).memory_info().rss / MIB:.0f} MiB after start")
        rates: dict[str, list[float]] = {"closed": [], "open": []}
        saturation: dict[str, list[float]] = {"closed": [], "open": []}
        peaks: dict[str, list[int]] = {"closed": [], "open": []}
        cpu: dict[str, list[float]] = {"closed": [], "open": []}
        for round_ in range(1, args.rounds + 1):
            for mode in ("closed", "open") if round_ % 2 else ("open", "closed"):  # ABBA, see interleaved()
                with PeakRss(daemon) as rss:
                    label = f"round {round_}, console {mode}"
                    if mode == "open":
                        with console_open(url) as page:
                            rate, top = measure(front, steps, args.step_s, label)
                            updated = page.inner_text("#panel-graph .graph-meta")
                        print(f"  the page was still updating at the end: {updated}")
                    else:
                        rate, top = measure(front, steps, args.step_s, label)
                rates[mode].append(rate)
                saturation[mode].append(top)
                peaks[mode].append(rss.peak)
                cpu[mode].append(rss.cpu_per_s)
                print(
                    f"  capacity {rate:.1f}/s, saturation {top:.1f}/s, daemon peak {rss.peak / MIB:.0f} MiB, "
                    f"daemon CPU {rss.cpu_per_s:.1%} of a core"
                )
        if args.rounds:
            summarise(rates, saturation, peaks, cpu)
        alternating = interleaved(front, url, daemon, args.users, args.step_s, args.pairs)
        ratios = [o / c for c, o in zip(alternating["closed"], alternating["open"], strict=True) if c]
        print(
            f"at {args.users} users, open/closed throughput: median {statistics.median(ratios):.3f} over "
            f"{len(ratios)} pairs (range {min(ratios):.2f}-{max(ratios):.2f}); daemon CPU closed "
            f"{statistics.median(alternating['cpu_closed']):.1%}, open {statistics.median(alternating['cpu_open']):.1%}"
            f" of a core, Chromium closed {statistics.median(alternating['browser_closed']):.1%}, open "
            f"{statistics.median(alternating['browser_open']):.1%} (medians)"
        )
        if args.viewers:  # a room: one console, then many, streaming at once (bench/console_viewers)
            lab.cli("load", "start", "-u", "2", "-r", "2")
            stream, process = url + "stream", psutil.Process(daemon)
            one, _ = cpu_per_second(process, stream, 1, args.step_s * 2)
            many, frames = cpu_per_second(process, stream, args.viewers, args.step_s * 2)
            print(
                f"daemon CPU with 1 console streaming {one:.1%} of a core, with {args.viewers} {many:.1%} "
                f"({frames} frames): {many / one:.2f}x (budget 1.5x)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
