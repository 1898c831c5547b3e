"""The peer benchmark: one workload (workload.py) written for diplo (pack/), hand-written
Python (python_impl.py), CLIPS through clipspy (clips_impl.py) and zen-engine (zen_impl.py).
bench/peers.py runs and compares them; docs/performance.md, "Against other rule engines",
reports a run."""
