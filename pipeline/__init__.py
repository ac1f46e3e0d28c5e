"""Orchestration and I/O: schemas, readers/adapters, one module per DVC stage, report, CLI."""
