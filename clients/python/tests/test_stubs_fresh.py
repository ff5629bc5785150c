"""The checked-in stubs under herald/v1 are exactly what scripts/gen_stubs.py makes from proto/ today."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

CLIENT_DIR = Path(__file__).resolve().parent.parent
CHECKED_IN = CLIENT_DIR / "herald" / "v1"


def _load_gen_stubs():
    spec = importlib.util.spec_from_file_location("gen_stubs", CLIENT_DIR / "scripts" / "gen_stubs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_stubs"] = module
    spec.loader.exec_module(module)
    return module


def test_checked_in_stubs_match_the_protos(tmp_path: Path) -> None:
    gen = _load_gen_stubs()
    generated = gen.generate(tmp_path)
    fresh = {p.name: p.read_bytes() for p in generated}
    current = {p.name: p.read_bytes() for p in CHECKED_IN.iterdir() if p.is_file()}
    assert sorted(fresh) == sorted(current), "stub file set differs: run scripts/gen_stubs.py"
    stale = [name for name in fresh if fresh[name] != current[name]]
    assert not stale, f"stale stubs {stale}: run python clients/python/scripts/gen_stubs.py"
    assert {"tasks_pb2.py", "tasks_pb2_grpc.py", "herald_pb2.py", "event_pb2.py"} <= set(fresh)


def test_every_proto_has_stubs() -> None:
    gen = _load_gen_stubs()
    for proto in gen.proto_files():
        stem = proto.stem
        assert (CHECKED_IN / f"{stem}_pb2.py").is_file(), stem
        assert (CHECKED_IN / f"{stem}_pb2_grpc.py").is_file(), stem


def test_stubs_import_as_a_subpackage() -> None:
    from herald.v1 import tasks_pb2, tasks_pb2_grpc

    assert tasks_pb2.DESCRIPTOR.name == "herald/v1/tasks.proto"
    assert hasattr(tasks_pb2_grpc, "TaskServiceStub")
