"""Generated protobuf and gRPC stubs for herald.v1 (do not edit; see scripts/gen_stubs.py)."""
