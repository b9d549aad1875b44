"""PalmGrid's benchmarks: `./dev bench [NAME]` or `python -m bench [NAME]`."""
