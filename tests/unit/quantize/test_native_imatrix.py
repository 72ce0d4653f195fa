"""app._native's imatrix collector (built by the project's own install); its sums are checked end to end against
activations computed by hand in tests/integration/quantize/test_quantize_tiny.py."""

from __future__ import annotations

from app import _native


def test_imatrix_collector_starts_empty() -> None:
    collector = _native.ImatrixCollector(process_output=True)
    callback, user_data = collector.addresses()
    assert callback and user_data
    assert collector.entries() == {}
