"""Regenerates ring_pb2.py and ring_pb2_grpc.py from ring.proto (``make proto``).

grpc_tools writes ``import ring_pb2`` as a top-level import; the stubs live in
a package, so the import is rewritten to a relative one.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

HERE = Path(__file__).resolve().parent
PROTO = HERE / "ring.proto"
OUTPUTS = ("ring_pb2.py", "ring_pb2_grpc.py", "ring_pb2.pyi")


def generate(out_dir: Path) -> None:
    args = [
        "protoc",
        f"-I{HERE}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        str(PROTO),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    stub = out_dir / "ring_pb2_grpc.py"
    stub.write_text(stub.read_text().replace("import ring_pb2 as", "from . import ring_pb2 as"))


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        for name in OUTPUTS:
            (HERE / name).write_text((Path(tmp) / name).read_text())
    print(f"regenerated {', '.join(OUTPUTS)} from {PROTO.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
