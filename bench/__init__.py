"""The benchmark of issue 7: acknowledgement latency under load against a bare Bolt reference,
timeline ingest, a 50,000-row postmortem, start-up time and memory. Run `python -m bench.run`."""
