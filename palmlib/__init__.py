"""PalmGrid's small shared rules, imported by edge, servers and clients alike; imports none
of them (tests/toolchain/test_layers.py keeps it so).

- `audiences`: which service an identity assertion is for (its audience).
- `masking`: how sensitive values are masked for display, by kind and by the contract's
  mask style.
- `permissions`: whether a principal's granted permissions cover a method's permission.
"""
