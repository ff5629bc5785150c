"""Regenerates the checked-in protobuf/gRPC stubs of the `herald` package from proto/herald/v1.

Usage (from anywhere): python clients/python/scripts/gen_stubs.py [--out DIR]

The stubs are written to DIR/herald/v1/ (DIR defaults to clients/python), so the generated imports
(`from herald.v1 import event_pb2`) resolve inside the installed `herald` package without rewriting.
Needs grpcio-tools (it bundles protoc); the version is pinned in pyproject.toml's `dev` extra so the
generated code matches the pinned protobuf runtime.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

CLIENT_DIR = Path(__file__).resolve().parent.parent
PROTO_ROOT = CLIENT_DIR.parent.parent / "proto"
PROTO_PACKAGE = Path("herald") / "v1"
INIT_DOC = '"""Generated protobuf and gRPC stubs for herald.v1 (do not edit; see scripts/gen_stubs.py)."""\n'


def proto_files(root: Path = PROTO_ROOT) -> list[Path]:
    """Returns the .proto files of herald.v1, relative to the proto root, in a stable order."""
    return sorted(p.relative_to(root) for p in (root / PROTO_PACKAGE).glob("*.proto"))


def generate(out_dir: Path, proto_root: Path = PROTO_ROOT) -> list[Path]:
    """Generates *_pb2.py, *_pb2.pyi and *_pb2_grpc.py for every herald.v1 proto into out_dir/herald/v1."""
    from grpc_tools import protoc  # imported here so the module loads without grpcio-tools

    files = proto_files(proto_root)
    if not files:
        raise SystemExit(f"no .proto files under {proto_root / PROTO_PACKAGE}")
    target = out_dir / PROTO_PACKAGE
    target.mkdir(parents=True, exist_ok=True)
    include = Path(protoc.__file__).resolve().parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{proto_root}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *(str(f) for f in files),
    ]
    code = protoc.main(args)
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")
    (target / "__init__.py").write_text(INIT_DOC)
    return sorted(p for p in target.iterdir() if p.is_file())


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=CLIENT_DIR, help="output root (default: clients/python)")
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
