"""``diagnose --ask COMMAND``: the evidence prompt piped to an AI assistant the user names (any command
that reads a prompt on stdin and answers on stdout: an LLM CLI of their choice). No model is bundled or
downloaded; the lab only runs the command the user typed, with the prompt as its input."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass

from chaoslab.errors import BadInput, Refused

TIMEOUT_S = 300.0
"""An assistant that has not answered in five minutes is not going to help this incident."""
KEPT_CHARS = 4000
"""How much of an answer goes on the incident's timeline."""


@dataclass
class Reply:
    command: str
    text: str
    seconds: float


def parse(command: str) -> list[str]:
    """The command line as arguments; BadInput when it is empty, unbalanced or not on PATH."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise BadInput(f"--ask {command!r}: {exc}; quote it as one argument, e.g. --ask 'llm -m MODEL'") from None
    if not argv:
        raise BadInput("--ask needs a command that reads a prompt on stdin, e.g. --ask 'llm -m MODEL'")
    if shutil.which(argv[0]) is None:
        raise BadInput(f"--ask: {argv[0]!r} is not a command on PATH; install your assistant's CLI or give its path")
    return argv


def ask(argv: list[str], prompt: str, timeout_s: float = TIMEOUT_S) -> Reply:
    """Run the assistant with ``prompt`` on stdin; its stdout is the answer. Refused when it fails or
    takes longer than ``timeout_s``."""
    started = time.monotonic()
    try:
        done = subprocess.run(argv, input=prompt, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise Refused(f"--ask: {argv[0]} did not answer within {timeout_s:g} s") from None
    except OSError as exc:
        raise Refused(f"--ask: could not run {argv[0]}: {exc.strerror or exc}") from None
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no message"])[0][:200]
        raise Refused(f"--ask: {argv[0]} exited {done.returncode}: {first}")
    return Reply(shlex.join(argv), done.stdout.strip(), round(time.monotonic() - started, 1))
