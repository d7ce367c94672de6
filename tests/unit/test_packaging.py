"""Every package folder is listed in pyproject.toml, so a non-editable install (the image) has it."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_is_listed():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    mapping = config["package-dir"]
    found = set()
    for package, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            found.add(".".join([package, *relative.parts]))
    missing = found - listed
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"


def test_every_data_file_a_package_holds_is_installed():
    """A non-editable install (the image) copies only the data files package-data names: the mystery
    stories next to the scenario catalogue were once left behind, and no drill started in a pod."""
    from fnmatch import fnmatch

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    data = config["package-data"]
    missed = []
    for package, folder in config["package-dir"].items():
        for path in (ROOT / folder).rglob("*"):
            if path.is_dir() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
                continue
            parts = path.parent.relative_to(ROOT / folder).parts
            depth = next(n for n in range(len(parts), -1, -1) if ".".join([package, *parts[:n]]) in config["packages"])
            owner = ".".join([package, *parts[:depth]])  # the nearest package: package-data is relative to it
            inside = "/".join([*parts[depth:], path.name])
            if not any(fnmatch(inside, glob) for glob in data.get(owner, [])):
                missed.append(str(path.relative_to(ROOT)))
    assert not missed, f"add to [tool.setuptools.package-data] in pyproject.toml: {missed}"
