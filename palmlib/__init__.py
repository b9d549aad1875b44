"""PalmGrid's small shared rules, imported by edge, servers and clients alike; imports none
of them (tests/toolchain/test_layers.py keeps it so).

- `audiences`: which service an identity assertion is for (its audience).
- `masking`: how sensitive values are masked for display, by kind and by the contract's
  mask style.
- `permissions`: whether a principal's granted permissions cover a method's permission.
- `jsonlogs`: the one shape of every process's JSON log lines (trace id, secrets redacted).
- `telemetry`: OTLP tracing when the standard variables ask for it; `traceparent()`; the
  latency histograms' shape.
- `networks`: CIDRs from configuration and whether an address lies inside one.
"""
