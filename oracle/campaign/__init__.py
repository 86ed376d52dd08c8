"""`oracle campaign`: run the fuzz targets in parallel worker processes for a time budget.

Layout of the output directory (everything written atomically, so a kill at any moment
leaves it consistent, and `--resume` carries on from it):

    DIR/state.json              options, elapsed seconds, chunks done, worker pids, every
                                worker's history (start, end, how it ended), resumes
    DIR/corpus/<target>/        persistent libFuzzer corpus per target (merged at the end)
    DIR/findings/               one crash file + .json per signature (oracle.findings_store)
    DIR/artifacts/<target>/     libFuzzer's crash-/timeout-/oom- files (harness failures)
    DIR/logs/<target>-<n>.log   each worker's output
    DIR/stats/<target>-<n>.json each worker's counters (updated every 2 s)
    DIR/timeseries.jsonl        per target every 2.5 s, read live from the running workers:
                                executions, exec/s, coverage, corpus size, findings, workers
                                (`oracle.campaign.live`; the report's plots come from it)
    DIR/reduced/<sig-hash>.wasm each finding, reduced
    DIR/regressions/<bucket>.wasm  one regression candidate per bug, with wasmtime's outcomes
                                (a reduced finding that holds all operators of a candidate is
                                its duplicate: `oracle.campaign.reduce_one.place`)
    DIR/summary.json, DIR/report.html
"""
