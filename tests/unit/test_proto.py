"""The committed gRPC stubs are exactly what ring.proto generates (no hand edits, no drift)."""

from pathlib import Path

from chaoslab.services.rpc import generate


def test_committed_stubs_match_the_proto(tmp_path: Path):
    generate.generate(tmp_path)
    for name in generate.OUTPUTS:
        assert (tmp_path / name).read_text() == (generate.HERE / name).read_text(), (
            f"{name} is stale: run `make proto` and commit the result"
        )
