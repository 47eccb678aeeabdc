"""qdispatch's benchmarks (issue 7): ``python -m bench`` runs them and regenerates docs/performance.md."""
