"""The campaign runner: schedules libFuzzer workers, watches them, collects findings."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from oracle.findings_store import atomic_write

TARGETS = ("differential", "validate", "compile", "assemble")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEEDED = ("differential", "validate", "compile")  # corpus starts from oracle/corpus
CHUNK_SECONDS = 60.0  # a worker process runs one target for at most this long
HANG_SECONDS = 20  # libFuzzer -timeout: an input running longer is a timeout finding
SAMPLE_SECONDS = 2.5  # workers' statistics are read into the time series this often
PROGRESS_SECONDS = 5.0  # a progress line at least this often (`--quiet`: none)


@dataclass
class Options:
    minutes: float = 2.0
    jobs: int = 2
    targets: tuple = TARGETS
    isas: tuple = ("x64", "aarch64", "s390x")
    out: str = "campaign-out"
    mutant: str | None = None
    reduce_seconds: float = 60.0
    # the differential target compiles with NaN canonicalization on every engine and compares
    # NaN bits exactly ($ORACLE_CANONICALIZE_NANS; `--no-canonicalize-nans` turns it off)
    canonicalize_nans: bool = True


def mutant_env(name: str) -> dict:
    """The differential target's settings a deliberate bug needs to be seen (a bug in what
    fuel or epoch interruption adds: `$ORACLE_FUEL`, ...; `oracle.mutants.Mutant.env`)."""
    from oracle.mutants import BY_NAME

    m = BY_NAME.get(name)
    return m.env if m is not None else {}


@dataclass
class State:
    options: dict
    started: float
    elapsed: float = 0.0
    chunks: dict = field(default_factory=dict)  # target -> seconds run
    workers: dict = field(default_factory=dict)  # pid -> [target, log]
    deaths: list = field(default_factory=list)  # [target, returncode, time, elapsed]
    reduced: dict = field(default_factory=dict)  # signature hash -> reduction summary
    # every worker: {target, pid, log, start, end, rc, how} (start/end in campaign seconds)
    history: list = field(default_factory=list)
    resumes: list = field(default_factory=list)  # campaign seconds at which it was resumed

    def save(self, out: str) -> None:
        atomic_write(os.path.join(out, "state.json"),
                     json.dumps(self.__dict__, indent=1).encode())

    @classmethod
    def load(cls, out: str) -> "State":
        with open(os.path.join(out, "state.json")) as f:
            return cls(**json.load(f))


def _dirs(out: str) -> dict:
    d = {k: os.path.join(out, k) for k in ("corpus", "findings", "artifacts", "logs", "stats",
                                            "regressions")}
    for p in d.values():
        os.makedirs(p, exist_ok=True)
    return d


def _seed(out: str, targets) -> None:
    from oracle.corpus import seeds

    for t in targets:
        c = os.path.join(out, "corpus", t)
        os.makedirs(c, exist_ok=True)
        if t in SEEDED and not os.listdir(c) and t != "differential":
            for name, data in seeds():
                with open(os.path.join(c, name), "wb") as f:
                    f.write(data)


def _log_status_missing(log: str) -> bool:
    from oracle.campaign.live import log_status

    return log_status(log) is None


def _path_with_python() -> str:
    """$PATH with this interpreter's directory first: libFuzzer's -merge (and -fork) re-run
    the target's file, whose `#!/usr/bin/env python3` must find this Python (its venv has
    atheris), not the system's."""
    return os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])


def _how(rc: int) -> str:
    """How a worker ended, from its exit status."""
    if rc == 0:
        return "chunk done"
    if rc < 0:
        try:
            return f"killed ({signal.Signals(-rc).name})"
        except ValueError:
            return f"killed (signal {-rc})"
    return f"exit {rc} (crash, timeout or out of memory)"


class Runner:
    """`progress`: print a progress line on stderr at least every PROGRESS_SECONDS (redrawn in
    place on a terminal, one line each time otherwise); `--quiet` turns it off."""

    def __init__(self, opts: Options, resume: bool = False, progress: bool = True):
        from oracle.campaign.live import Sampler

        # absolute: the workers run with the project root as their working directory
        self.opts, self.out, self.progress = opts, os.path.abspath(opts.out), progress
        self.tty = progress and sys.stderr.isatty()
        self.dirs = _dirs(self.out)
        if resume and os.path.exists(os.path.join(self.out, "state.json")):
            self.state = State.load(self.out)
            self._kill_orphans()
            self.state.resumes.append(round(self.state.elapsed, 1))
        else:
            self.state = State(options=dict(opts.__dict__), started=time.time())
            self.state.chunks = {t: 0.0 for t in opts.targets}
        _seed(self.out, opts.targets)
        self.procs: dict = {}  # pid -> (Popen, target, log path, chunk seconds, started)
        self.seq = sum(1 for _ in os.listdir(self.dirs["logs"]))
        self.lock = threading.Lock()
        self.reducer: threading.Thread | None = None
        self.broken: dict = {}  # target -> workers that died before fuzzing
        self.sampler = Sampler(self.out, opts.targets)
        self.rows: dict = {}  # the last sample, per target
        self.last_progress = 0.0

    # -- workers ------------------------------------------------------------------------------
    def _kill_orphans(self) -> None:
        """Workers of a runner that was killed may still run: stop them before going on."""
        for pid in list(self.state.workers):
            try:
                os.killpg(int(pid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError, OSError):
                pass
        for w in self.state.history:  # the runner died under them: they count as killed
            if w.get("end") is None:
                w.update(end=round(self.state.elapsed, 1), rc=-signal.SIGKILL,
                         how="killed (runner died; stopped on --resume)")
                self.state.deaths.append([w["target"], -signal.SIGKILL, time.time(),
                                          w["end"]])
        self.state.workers = {}

    def _next_target(self) -> str | None:
        budget = self.opts.minutes * 60.0 * self.opts.jobs / len(self.opts.targets)
        running = {}
        for _, t, _, secs, _ in self.procs.values():
            running[t] = running.get(t, 0.0) + secs
        pending = [(self.state.chunks.get(t, 0.0) + running.get(t, 0.0), t)
                   for t in self.opts.targets if self.broken.get(t, 0) < 3
                   and self.state.chunks.get(t, 0.0) + running.get(t, 0.0) < budget - 1]
        return min(pending)[1] if pending else None

    def _spawn(self, target: str, seconds: float) -> None:
        self.seq += 1
        log = os.path.join(self.dirs["logs"], f"{target}-{self.seq}.log")
        stats = os.path.join(self.dirs["stats"], f"{target}-{self.seq}.json")
        art = os.path.join(self.dirs["artifacts"], target) + os.sep
        os.makedirs(art, exist_ok=True)
        env = dict(os.environ, ORACLE_FINDINGS_DIR=self.dirs["findings"],
                   ORACLE_FUZZ_KEEP_GOING="1", ORACLE_STATS_FILE=stats,
                   ORACLE_ISAS=",".join(self.opts.isas), PYTHONUNBUFFERED="1",
                   PATH=_path_with_python())
        engines = ["wasmtime"] + [f"winch-{i}" for i in self.opts.isas]
        env["ORACLE_ENGINES"] = ",".join(engines)
        env["ORACLE_CANONICALIZE_NANS"] = "1" if self.opts.canonicalize_nans else "0"
        if self.opts.mutant:
            env["ORACLE_MUTANT"] = self.opts.mutant
            env.update(mutant_env(self.opts.mutant))
        argv = [sys.executable, "-m", f"fuzz_targets.{target}",
                os.path.join(self.dirs["corpus"], target),
                f"-max_total_time={int(seconds)}", f"-timeout={HANG_SECONDS}",
                f"-artifact_prefix={art}", "-print_final_stats=1", "-rss_limit_mb=4096"]
        f = open(log, "wb")
        p = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT,
                             start_new_session=True)
        f.close()
        self.procs[p.pid] = (p, target, log, seconds, time.time())
        self.state.workers[str(p.pid)] = [target, log]
        self.state.history.append({"target": target, "pid": p.pid, "log": log,
                                   "start": round(self.state.elapsed, 1), "end": None,
                                   "rc": None, "how": None})
        self.state.save(self.out)

    def _reap(self) -> None:
        for pid, (p, target, log, secs, started) in list(self.procs.items()):
            rc = p.poll()
            if rc is None:
                continue
            ran = min(secs, time.time() - started)
            del self.procs[pid]
            self.state.workers.pop(str(pid), None)
            how = _how(rc)
            self.state.chunks[target] = self.state.chunks.get(target, 0.0) + max(ran, 1.0)
            if rc != 0 and time.time() - started < 10 and _log_status_missing(log):
                # died before fuzzing anything: a broken harness, not a finding
                how = f"failed to start ({how})"
                self.broken[target] = self.broken.get(target, 0) + 1
                if self.broken[target] >= 3:
                    print(f"\noracle campaign: target {target} fails to start; see {log}",
                          file=sys.stderr)
            if rc != 0:
                # a crash of the harness (libFuzzer artifact), a timeout, or a killed worker:
                # what it found is already on disk; note the death and go on
                self.state.deaths.append([target, rc, time.time(), round(self.state.elapsed, 1)])
                self._record_artifacts(target)
            for w in self.state.history:
                if w["pid"] == pid and w["end"] is None:
                    w.update(end=round(self.state.elapsed, 1), rc=rc, how=how)
            self.state.save(self.out)

    def _record_artifacts(self, target: str) -> None:
        """libFuzzer's crash-/timeout-/oom- files become findings (once per kind and target:
        their inputs differ but the campaign cannot tell them apart further)."""
        from oracle import findings_store as findings

        art = os.path.join(self.dirs["artifacts"], target)
        for name in sorted(os.listdir(art)):
            kind = name.split("-")[0]
            if kind not in ("crash", "timeout", "oom", "leak"):
                continue
            data = open(os.path.join(art, name), "rb").read()
            sig = f"{'timeout' if kind == 'timeout' else 'harness ' + kind}|{target}||{target}"
            findings.record(target, "timeout" if kind == "timeout" else f"harness {kind}", sig,
                            data, suffix=".bin", detail=f"libFuzzer artifact {name}",
                            directory=self.dirs["findings"], raise_error=False)

    # -- findings --------------------------------------------------------------------------------
    def _findings(self) -> list:
        out = []
        d = self.dirs["findings"]
        for name in sorted(os.listdir(d)):
            if name.endswith(".json"):
                try:
                    with open(os.path.join(d, name)) as f:
                        out.append(json.load(f))
                except (OSError, ValueError):
                    continue
        return out

    def _reduce_pending(self) -> None:
        """Reduce each new differential finding into DIR/regressions (one at a time, in a
        subprocess so the mutant, if any, applies there too)."""
        for meta in self._findings():
            h = meta["file"].split(".")[0]
            if h in self.state.reduced or not meta["file"].endswith(".wasm") or \
                    meta.get("target") != "differential":
                continue
            src = os.path.join(self.dirs["findings"], meta["file"])
            os.makedirs(os.path.join(self.out, "reduced"), exist_ok=True)
            dst = os.path.join(self.out, "reduced", h + ".wasm")
            argv = [sys.executable, "-m", "oracle.campaign.reduce_one", src, dst,
                    str(self.opts.reduce_seconds)]
            env = dict(os.environ)
            if self.opts.mutant:
                env["ORACLE_MUTANT"] = self.opts.mutant
            try:
                r = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True,
                                   timeout=self.opts.reduce_seconds + 120)
                summary = json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 \
                    else {"error": (r.stderr or r.stdout)[-500:]}
            except (subprocess.TimeoutExpired, ValueError, IndexError) as e:
                summary = {"error": str(e)}
            with self.lock:
                self.state.reduced[h] = summary
                self.state.save(self.out)

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> int:
        try:
            return self._run()
        except KeyboardInterrupt:
            return self._interrupted()

    def _interrupted(self) -> int:
        """Ctrl-C: stop the workers (what they found is already on disk), keep the state and
        write the report of what ran; `--resume` goes on from here.  Exit status 130."""
        from oracle.campaign.report import write_reports

        old = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C: finish this
        try:
            for pid in self.procs:
                try:
                    os.killpg(pid, signal.SIGTERM)
                except OSError:
                    pass
            deadline = time.time() + 5.0
            for pid, (p, target, log, secs, started) in list(self.procs.items()):
                try:
                    p.wait(max(0.1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except OSError:
                        pass
                    p.wait()
                self.state.chunks[target] = self.state.chunks.get(target, 0.0) + \
                    max(min(secs, time.time() - started), 1.0)
                self.state.workers.pop(str(pid), None)
                for w in self.state.history:
                    if w["pid"] == pid and w["end"] is None:
                        w.update(end=round(self.state.elapsed, 1), rc=p.returncode,
                                 how="stopped (campaign interrupted)")
                self._record_artifacts(target)  # a crash found just before the stop
            self.procs.clear()
            self._sample()
            self.state.save(self.out)
            summary = write_reports(self.out, self.state)
        finally:
            signal.signal(signal.SIGINT, old)
        if self.tty:
            sys.stderr.write("\n")
        print(f"oracle campaign: interrupted after {summary['elapsed_seconds']:.0f}s, "
              f"{len(summary['findings'])} finding(s) so far (not reduced); report: "
              f"{os.path.join(self.out, 'report.html')}; continue with --resume --out {self.out}",
              file=sys.stderr)
        return 130

    def _run(self) -> int:
        from oracle.campaign.report import write_reports

        t_last = time.time()
        last_sample = 0.0
        while True:
            now = time.time()
            self.state.elapsed += now - t_last
            t_last = now
            self._reap()
            while len(self.procs) < self.opts.jobs:
                t = self._next_target()
                if t is None:
                    break
                budget = self.opts.minutes * 60.0 * self.opts.jobs / len(self.opts.targets)
                left = budget - self.state.chunks.get(t, 0.0)
                self._spawn(t, max(5.0, min(CHUNK_SECONDS, left)))
            if now - last_sample >= SAMPLE_SECONDS:
                last_sample = now
                self._sample()
                with self.lock:
                    self.state.save(self.out)
                if self.reducer is None or not self.reducer.is_alive():
                    self.reducer = threading.Thread(target=self._reduce_pending, daemon=True)
                    self.reducer.start()
            if not self.procs and self._next_target() is None:
                break
            time.sleep(0.5)
        if self.reducer is not None:
            self._wait(self.reducer.is_alive, "reducing findings")
        # the merge runs the targets over the corpus, and the differential target records
        # what disagrees: merge first, so that the last reduction pass sees those findings too
        self._merge_corpora()
        self.reducer = threading.Thread(target=self._reduce_pending, daemon=True)
        self.reducer.start()
        self._wait(self.reducer.is_alive, "reducing findings")
        self._sample()
        self.state.save(self.out)
        summary = write_reports(self.out, self.state)
        if self.tty:
            sys.stderr.write("\n")
        print(f"campaign: {summary['elapsed_seconds']:.0f}s, {len(summary['findings'])} "
              f"finding(s); report: {os.path.join(self.out, 'report.html')}")
        return 1 if summary["findings"] else 0

    def _sample(self, note: str = "") -> None:
        """Read the workers' live statistics into the time series; show progress."""
        self.rows = self.sampler.sample(self.state.elapsed,
                                        [log for _, _, log, _, _ in self.procs.values()])
        self._progress(note)

    def _wait(self, busy, note: str, timeout: float | None = None) -> bool:
        """Wait while `busy()` (a reducer thread, a merge process), showing progress; False
        if `timeout` seconds passed first."""
        start = time.time()
        while busy():
            if timeout is not None and time.time() - start > timeout:
                return False
            time.sleep(0.2)
            if time.time() - self.last_progress >= PROGRESS_SECONDS:
                self._progress(note, force=True)
        return True

    def _progress(self, note: str = "", force: bool = False) -> None:
        """The progress line: on a terminal redrawn at every sample, otherwise a new line
        every PROGRESS_SECONDS (a log or CI sees the campaign move, not only its end)."""
        from oracle.campaign.live import progress_line

        now = time.time()
        if not self.progress or not self.rows or \
                (not self.tty and not force and now - self.last_progress < PROGRESS_SECONDS):
            return
        self.last_progress = now
        rows = self.rows if self.procs else \
            {t: dict(r, exec_per_s=None) for t, r in self.rows.items()}  # winding down
        line = progress_line(rows, self.state.elapsed, self.opts.minutes * 60.0,
                             len(self.procs), note)
        sys.stderr.write(f"\r{line}\033[K" if self.tty else line + "\n")
        sys.stderr.flush()

    def _merge_corpora(self) -> None:
        """libFuzzer -merge=1: keep only inputs that add coverage (pruned corpus)."""
        import shutil

        for t in self.opts.targets:
            src = os.path.join(self.dirs["corpus"], t)
            if not os.listdir(src):
                continue
            merged = src + ".merged"
            shutil.rmtree(merged, ignore_errors=True)
            os.makedirs(merged)
            env = dict(os.environ, ORACLE_FINDINGS_DIR=self.dirs["findings"],
                       ORACLE_FUZZ_KEEP_GOING="1", ORACLE_ISAS=",".join(self.opts.isas),
                       PATH=_path_with_python(),
                       ORACLE_ENGINES=",".join(["wasmtime"] + [f"winch-{i}"
                                                               for i in self.opts.isas]),
                       ORACLE_CANONICALIZE_NANS="1" if self.opts.canonicalize_nans else "0")
            if self.opts.mutant:
                env["ORACLE_MUTANT"] = self.opts.mutant
                env.update(mutant_env(self.opts.mutant))
            log = os.path.join(self.dirs["logs"], f"{t}-merge.log")
            with open(log, "wb") as f:
                p = subprocess.Popen([sys.executable, "-m", f"fuzz_targets.{t}", "-merge=1",
                                      f"-timeout={HANG_SECONDS}", merged, src], cwd=ROOT,
                                     env=env, stdout=f, stderr=subprocess.STDOUT)
            if not self._wait(lambda: p.poll() is None, f"merging the {t} corpus", 600):
                p.kill()
            if p.wait() == 0 and os.listdir(merged):
                old = src + ".old"
                shutil.rmtree(old, ignore_errors=True)
                os.replace(src, old)
                os.replace(merged, src)
                shutil.rmtree(old, ignore_errors=True)
            else:
                shutil.rmtree(merged, ignore_errors=True)
