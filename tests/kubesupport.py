"""Helpers for the Kubernetes tests: the chart, its rendering with real helm, and tool lookup."""

from __future__ import annotations

import subprocess

import yaml

from support import ROOT

CHART = ROOT / "charts" / "chaoslab"
KUBE_VERSION = "1.34.0"
VALUES_FILES = sorted([*(CHART / "ci").glob("*-values.yaml"), *(CHART / "profiles").glob("*.yaml")])
"""Every values file the chart is checked with: CI fixtures and the cohort profiles Makefile uses."""


def render(helm: str, *args: str, namespace: str = "chaoslab-lab") -> list[dict]:
    result = subprocess.run(
        [helm, "template", "lab", str(CHART), "-n", namespace, "--kube-version", KUBE_VERSION, *args],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise AssertionError(f"helm template {' '.join(args)} failed: {result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]
