//! End-to-end tests live in tests/*.rs, tests/node and tests/python.
