#!/usr/bin/env python3
"""clusterd's benchmarks (issue 7), run by bench/run.sh (`make bench`).

Every figure is a ratio measured side by side in this one run: the
contenders are started together and the load goes to each in turn, round
after round in a rotating order, so that whatever else the machine does
falls on all of them alike.  Loopback only; every load is bounded in time.

    python3 bench/bench.py [--quick] [--only NAME[,NAME...]]

Environment: top_srcdir, top_builddir (set by bench.mk), BENCH_OUT (raw
data, default $top_builddir/bench/out).  Writes $top_srcdir/bench/RESULTS.md
and the plots bench/*.png beside it.
"""

import argparse
import atexit
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

SRC = os.path.abspath(os.environ.get("top_srcdir", "."))
BUILD = os.path.abspath(os.environ.get("top_builddir", SRC))
BENCH = os.path.join(SRC, "bench")
OUT = os.environ.get("BENCH_OUT", os.path.join(BUILD, "bench", "out"))
TOOLS = os.path.join(BUILD, "bench")
CLUSTERD = os.path.join(BUILD, "src", "clusterd")
CTL = os.path.join(BUILD, "src", "clusterctl")
ALT = os.path.join(BUILD, "t", "alt", "clusterd")   # same code, another version
HELLO = os.path.join(BUILD, "examples", "hello")
HELLOJS = os.path.join(SRC, "examples", "hello.js")
SEED = os.path.join(BENCH, "seed-cluster.js")
SEED_WORKER = os.path.join(BENCH, "seed-worker.js")
PEERS = os.path.join(BENCH, ".peers")
PM2 = os.path.join(PEERS, "node_modules", ".bin", "pm2")
PM2_HOME = os.path.join(PEERS, "pm2home")
os.environ["PM2_HOME"] = PM2_HOME    # no pm2 command may touch ~/.pm2
NODE = shutil.which("node") or "node"
WRK = shutil.which("wrk") or "wrk"
HZ = os.sysconf("SC_CLK_TCK")

# What a full run and a smoke run (--quick) do.
PROFILES = {
    "full": dict(rounds=9, slice=1, warm=1, wrk_threads=2, wrk_conns=32,
                 idle_windows=3, idle_secs=10.0, kills_c=200, kills_node=60,
                 kill_blocks=4, scale=(10, 100, 1000, 3000), scale_rounds=3, rss_starts=6,
                 balance_rounds=5, balance_secs=2.0, rolling_rounds=3,
                 relay_rounds=7, relay_mib=256,
                 spawnlat_n=1000, spawnlat_rounds=3,
                 cg_events=20, cg_spawn_n=1000,
                 up_sizes=(8, 1000), up_count=20, up_gap=0.3),
    "quick": dict(rounds=2, slice=1, warm=1, wrk_threads=2, wrk_conns=32,
                  idle_windows=1, idle_secs=2.0, kills_c=10, kills_node=5,
                  kill_blocks=1, scale=(10, 100), scale_rounds=1, rss_starts=3,
                  balance_rounds=1, balance_secs=0.5, rolling_rounds=1,
                  relay_rounds=2, relay_mib=32,
                  spawnlat_n=200, spawnlat_rounds=1,
                  cg_events=4, cg_spawn_n=200,
                  up_sizes=(8, 1000), up_count=4, up_gap=0.3),
}
P = None  # the chosen profile

STARTED = []      # every Run this script started, for the clean-up
PM2_USED = False


def log(msg):
    print(f"bench: {msg}", flush=True)


# ---------------------------------------------------------------- helpers

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_ok(port, timeout=1.0):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                b = s.recv(4096)
                if not b:
                    break
                data += b
            return data.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def children(pid):
    """Processes whose parent is pid (no /proc/PID/task/*/children here)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        s = read(f"/proc/{d}/stat")
        r = s.rfind(")")
        if r > 0:
            f = s[r + 2:].split()
            if int(f[1]) == pid and f[0] != "Z":
                out.append(int(d))
    return out


def status_fields(pid):
    d = {}
    for line in read(f"/proc/{pid}/status").splitlines():
        k, _, v = line.partition(":")
        d[k] = v.strip()
    return d


def rss_kib(pid):
    d = status_fields(pid)
    kib = lambda k: int(d.get(k, "0 kB").split()[0])
    return dict(rss=kib("VmRSS"), anon=kib("RssAnon"), file=kib("RssFile"),
                shmem=kib("RssShmem"), threads=int(d.get("Threads", "1")))


def ctxt(pid):
    """Voluntary + involuntary context switches of every thread of pid."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for t in tasks:
        d = {}
        for line in read(f"/proc/{pid}/task/{t}/status").splitlines():
            k, _, v = line.partition(":")
            d[k] = v.strip()
        total += int(d.get("voluntary_ctxt_switches", 0))
        total += int(d.get("nonvoluntary_ctxt_switches", 0))
    return total


def cpu_ticks(pid):
    s = read(f"/proc/{pid}/stat")
    r = s.rfind(")")
    if r < 0:
        return 0
    f = s[r + 2:].split()
    return int(f[11]) + int(f[12])   # utime + stime, all threads


def busy_ticks():
    f = [int(x) for x in read("/proc/stat").split("\n")[0].split()[1:]]
    return sum(f[:8]) - f[3] - f[4]      # all but idle and iowait


def tree_ticks(pids):
    return sum(cpu_ticks(p) for p in pids)


def rss_by_file(pid):
    out, cur = {}, None
    for line in read(f"/proc/{pid}/smaps").splitlines():
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            f = line.split()
            cur = f[5] if len(f) > 5 else "[anon]"
        elif line.startswith("Rss:") and cur is not None:
            out[cur] = out.get(cur, 0) + int(line.split()[1])
    return sorted(out.items(), key=lambda kv: -kv[1])


def symbols_from(binary, lib):
    """The dynamic symbols binary takes from lib."""
    try:
        need = set(run(["nm", "-D", "--undefined-only", binary]).stdout.split())
        have = run(["nm", "-D", "--defined-only", lib]).stdout.splitlines()
    except OSError:
        return []
    names = {l.split()[-1].split("@")[0] for l in have if l.strip()}
    return sorted({n.split("@")[0] for n in need} & names)


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round((len(xs) - 1) * p)))]


def spread(xs, fmt="{:.2f}"):
    if not xs:
        return "-"
    return (fmt + "–" + fmt).format(min(xs), max(xs))


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, **kw)


class LogReader(threading.Thread):
    """Reads a supervisor's output, stamping each line with time.monotonic()."""

    def __init__(self, stream, path):
        super().__init__(daemon=True)
        self.stream, self.lines = stream, []
        self.file = open(path, "a")
        self.cond = threading.Condition()
        self.start()

    def run(self):
        for line in self.stream:
            t = time.monotonic()
            with self.cond:
                self.lines.append((t, line.rstrip("\n")))
                self.cond.notify_all()
            self.file.write(f"{t:.6f} {line}")
        self.file.close()

    def wait_for(self, pattern, timeout):
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        with self.cond:
            i = 0
            while True:
                while i < len(self.lines):
                    if rx.search(self.lines[i][1]):
                        return self.lines[i][0]
                    i += 1
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def wait_after(self, pattern, since, timeout, accept=lambda m: True):
        """The first line stamped at or after since that matches pattern
        and that accept(match) takes: (stamp, match), or (None, None)."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        with self.cond:
            i = 0
            while True:
                while i < len(self.lines):
                    t, line = self.lines[i]
                    i += 1
                    m = rx.search(line) if t >= since else None
                    if m and accept(m):
                        return t, m
                left = end - time.monotonic()
                if left <= 0:
                    return None, None
                self.cond.wait(left)


# ------------------------------------------------------------- contenders

class Run:
    """One running supervisor with its workers."""

    def __init__(self, kind, app, n, port, tag, extra=(), watch=None, wrap=()):
        self.kind, self.app, self.n, self.port = kind, app, n, port
        self.tag = tag      # also names its log and control socket in OUT
        self.ctl = os.path.join(OUT, f"ctl-{tag}.sock")
        self.proc = None
        self.pm2_name = None
        self.reader = None
        self.t_start = time.monotonic()
        app_cmd = {"c": [HELLO], "node": [NODE, HELLOJS],
                   "seedfd": [NODE, SEED_WORKER],
                   "leaker": [os.path.join(TOOLS, "leaker")]}.get(app)
        logf = os.path.join(OUT, f"{tag}.log")
        env = dict(os.environ, PORT=str(port), WORKERS=str(n))
        if kind == "minimal":
            cmd = [os.path.join(TOOLS, "minimal"), str(n), "127.0.0.1",
                   str(port)] + app_cmd
        elif kind == "clusterd":
            cmd = [CLUSTERD, "-n", str(n), "-l", f"127.0.0.1:{port}",
                   "-s", self.ctl] + list(extra) + ["--"] + app_cmd
        elif kind == "nodecluster":
            cmd = [NODE, SEED]
        elif kind == "pm2":
            global PM2_USED
            PM2_USED = True
            self.pm2_name = f"seed-{tag}"
            cmd = [PM2, "start", SEED, "-i", str(n), "--name", self.pm2_name] \
                + list(extra)
            env["PM2_HOME"] = PM2_HOME
            r = run(cmd, env=env, timeout=120)
            with open(logf, "a") as f:
                f.write(r.stdout)
            if r.returncode != 0:
                raise RuntimeError(f"pm2 start failed: {r.stdout[-500:]}")
            self.sup = int(read(os.path.join(PM2_HOME, "pm2.pid")).strip())
            STARTED.append(self)
            return
        else:
            raise ValueError(kind)
        if watch:
            cmd = [os.path.join(TOOLS, "spawnwatch"), str(watch)] + cmd
        cmd = list(wrap) + cmd      # a wrapper that execs: the pid stays
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        self.sup = self.proc.pid
        self.reader = LogReader(self.proc.stdout, logf)
        STARTED.append(self)
        if watch:
            if self.reader.wait_for(r"^spawnwatch: pid \d+", 10) is None:
                raise RuntimeError(f"{tag}: spawnwatch did not start")
            self.sup = int(next(l for _, l in self.reader.lines
                                if l.startswith("spawnwatch: pid")).split()[-1])

    def workers(self):
        return children(self.sup)

    def wait_ready(self, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.tag} exited: see {OUT}/{self.tag}.log")
            if len(self.workers()) >= self.n and http_ok(self.port):
                if self.app != "c":
                    time.sleep(0.3)   # node workers still starting to listen
                return
            time.sleep(0.02)
        raise RuntimeError(f"{self.tag}: not ready in {timeout}s")

    def stop(self):
        if self in STARTED:
            STARTED.remove(self)
        if self.kind == "pm2":
            run([PM2, "delete", self.pm2_name],
                env=dict(os.environ, PM2_HOME=PM2_HOME), timeout=60)
            return
        if self.proc.poll() is None:
            try:
                if self.kind == "nodecluster":
                    os.killpg(self.proc.pid, signal.SIGTERM)
                else:
                    self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        if self.reader:
            self.reader.join(timeout=5)


# The contenders of the throughput runs: (tag, kind, app, label, family)
CONTENDERS = [
    ("minimal-c", "minimal", "c", "minimal launcher, C hello", "c"),
    ("minimal-c2", "minimal", "c", "minimal launcher, C hello (2nd copy: A/A noise check)", "c"),
    ("clusterd-c", "clusterd", "c", "clusterd, C hello", "c"),
    ("minimal-node", "minimal", "node", "minimal launcher, node hello.js", "node"),
    ("clusterd-node", "clusterd", "node", "clusterd, node hello.js", "node"),
    ("minimal-node2", "minimal", "node", "minimal launcher, node hello.js (2nd copy: A/A noise check)", "node"),
    ("nodecluster", "nodecluster", "seed", "node:cluster, seed app", "node"),
    ("clusterd-seed", "clusterd", "seedfd", "clusterd, seed app with listen({fd: 3})", "node"),
    ("pm2", "pm2", "seed", "PM2 cluster mode, seed app", "node"),
]
LABEL = {c[0]: c[3] for c in CONTENDERS}
LABEL.update({"clusterd-c-reuseport": "clusterd --reuseport, C hello",
              "clusterd-seed-reuseport": "clusterd --reuseport, seed app",
              "clusterd-node-reuseport": "clusterd --reuseport, node hello.js"})


def start_all(bench, specs, n, extra=None):
    runs = {}
    for tag, kind, app, *_ in specs:
        runs[tag] = Run(kind, app, n, free_port(), f"{bench}-{tag}",
                        (extra or {}).get(tag, ()))
    for r in runs.values():
        r.wait_ready()
    return runs


def stop_all(runs):
    for r in runs.values():
        r.stop()


def cleanup():
    for r in list(STARTED):
        try:
            r.stop()
        except Exception as e:  # noqa: BLE001 - clean up as much as we can
            log(f"clean-up of {r.tag}: {e}")
    if PM2_USED and os.path.exists(PM2):
        run([PM2, "kill"], env=dict(os.environ, PM2_HOME=PM2_HOME), timeout=60)


# ------------------------------------------------------------ benchmarks

def wrk_cmd(port, secs, close):
    cmd = [WRK, f"-t{P['wrk_threads']}", f"-c{P['wrk_conns']}", f"-d{secs}s"]
    if close:
        cmd += ["-H", "Connection: close"]
    return cmd + [f"http://127.0.0.1:{port}/"]


def wrk(port, secs, close):
    return wrk_parse(run(wrk_cmd(port, secs, close), timeout=secs + 60))


def wrk_parse(r):
    m = re.search(r"Requests/sec:\s*([\d.]+)", r.stdout)
    errs = 0
    e = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", r.stdout)
    if e:
        errs += sum(int(x) for x in e.groups())
    e = re.search(r"Non-2xx or 3xx responses: (\d+)", r.stdout)
    if e:
        errs += int(e.group(1))
    if not m:
        raise RuntimeError(f"wrk failed: {r.stdout[-500:]}")
    return float(m.group(1)), errs


def task_ns(pid):
    """CPU time of every thread of pid, in ns (schedstat: exact, not ticks)."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for t in tasks:
        f = read(f"/proc/{pid}/task/{t}/schedstat").split()
        if f:
            total += int(f[0])
    return total


# The throughput contenders in groups: each group's first is the reference
# the others are divided by, and a group's slices run back to back, so that
# each ratio compares slices a second or two apart.
GROUPS = [["minimal-c", "clusterd-c", "minimal-c2"],
          ["minimal-node", "clusterd-node", "minimal-node2"],
          ["nodecluster", "clusterd-seed", "pm2", "clusterd-seed-reuseport"]]


def reference(tag):
    return next(g[0] for g in GROUPS if tag in g)


def bench_throughput(res):
    log("throughput: starting the contenders (2 workers each)")
    contenders = list(CONTENDERS)
    if reuseport_supported()[0]:
        contenders.append(("clusterd-seed-reuseport", "clusterd", "seedfd",
                           "clusterd --reuseport, seed app with listen({fd: 3})", "node"))
    modes = ("close", "keepalive")
    tags = [c[0] for c in contenders]
    per = lambda: {m: {t: [] for t in tags} for m in modes}
    data, cpu, split, eff, wake = per(), per(), per(), per(), per()
    errs = {m: {t: 0 for t in tags} for m in modes}
    others = {m: [] for m in modes}
    import resource
    groups = [[t for t in g if t in tags] for g in GROUPS]
    for rnd in range(P["rounds"]):
        # Every round starts every contender anew: a node process keeps what
        # its JIT made of the first requests, so one instance can stay 20%
        # faster or slower than another of the same program for its life.
        runs = start_all(f"throughput-{rnd}", contenders, 2,
                         {"clusterd-seed-reuseport": ["--reuseport"]})
        trees = {tag: [r.sup] + r.workers() for tag, r in runs.items()}
        for tag, r in runs.items():      # warm up every JIT and page cache
            wrk(r.port, P["warm"], False)
        order = groups[rnd % len(groups):] + groups[:rnd % len(groups)]
        order = [g[::-1] if rnd % 2 else g for g in order]
        log(f"throughput: round {rnd + 1}/{P['rounds']}")
        for mode in modes:
            for tag in (t for g in order for t in g):
                r = runs[tag]
                ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                n0 = sum(task_ns(p) for p in trees[tag])
                b0, m0 = busy_ticks(), tree_ticks(trees[tag])
                w0 = [cpu_ticks(p) for p in trees[tag][1:]]
                c0, x0, t0 = cpu_ticks(r.sup), ctxt(r.sup), time.monotonic()
                rps, e = wrk(r.port, P["slice"], mode == "close")
                c1, x1, t1 = cpu_ticks(r.sup), ctxt(r.sup), time.monotonic()
                b1, m1 = busy_ticks(), tree_ticks(trees[tag])
                n1 = sum(task_ns(p) for p in trees[tag])
                wd = [cpu_ticks(p) - a for p, a in zip(trees[tag][1:], w0)]
                ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                wrk_s = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
                others[mode].append(max(0.0, 100.0 * ((b1 - b0 - (m1 - m0)) / HZ - wrk_s) / (t1 - t0)))
                data[mode][tag].append(rps)
                eff[mode][tag].append(rps * (t1 - t0) / max(1e-9, (n1 - n0) / 1e9))
                cpu[mode][tag].append(100.0 * (c1 - c0) / HZ / (t1 - t0))
                wake[mode][tag].append(x1 - x0)
                if sum(wd) > 0:
                    split[mode][tag].append(100.0 * max(wd) / sum(wd))
                errs[mode][tag] += e
        stop_all(runs)
    res["throughput"] = dict(rps=data, sup_cpu=cpu, errors=errs, others=others,
                             split=split, contenders=contenders, eff=eff, wake=wake)


def ratios(a, b):
    return [x / y for x, y in zip(a, b) if y > 0]


def bench_memory_idle(res):
    log("memory and idle: 8 workers each")
    specs = [("clusterd-c", "clusterd", "c"), ("clusterd-node", "clusterd", "node"),
             ("minimal-c", "minimal", "c"), ("nodecluster", "nodecluster", "seed"),
             ("pm2", "pm2", "seed")]
    # Without cgroups, as before issue 13 and as the minimal launcher runs;
    # the cgroups part measures clusterd with them beside it.
    nocg = ["--cgroups=no"]
    runs = start_all("memory", specs, 8, {"clusterd-c": nocg, "clusterd-node": nocg})
    # More starts of clusterd: its VmRSS moves with where ASLR puts libc
    # (the kernel maps 64 KiB around each page fault, aligned in the address
    # space); with randomisation off (setarch -R) it does not.
    more = {}
    for i in range(2, P["rss_starts"] + 1):
        more[f"clusterd-c#{i}"] = Run("clusterd", "c", 8, free_port(), f"memory-clusterd-c-{i}", nocg)
    if shutil.which("setarch"):
        for i in range(1, 4):
            more[f"clusterd-c-norand#{i}"] = Run("clusterd", "c", 8, free_port(),
                                                 f"memory-clusterd-c-norand-{i}", nocg,
                                                 wrap=["setarch", "-R"])
    for r in more.values():
        r.wait_ready()
    runs.update(more)
    time.sleep(2.0)   # let start-up work settle
    mem = {t: rss_kib(r.sup) for t, r in runs.items()}
    by_file = {t: rss_by_file(runs[t].sup) for t in ("clusterd-c", "minimal-c")}
    libs = {}
    for name, kib in by_file["clusterd-c"]:
        if name.startswith("/") and ".so" in name and os.path.exists(name):
            libs[name] = symbols_from(CLUSTERD, name)
    smaps = {t: read(f"/proc/{r.sup}/smaps_rollup") for t, r in runs.items()}
    wake = {t: [] for t in runs}
    for w in range(P["idle_windows"]):
        before = {t: ctxt(r.sup) for t, r in runs.items()}
        time.sleep(P["idle_secs"])
        after = {t: ctxt(r.sup) for t, r in runs.items()}
        for t in runs:
            wake[t].append(after[t] - before[t])
    mem2 = {t: rss_kib(r.sup) for t, r in runs.items()}
    diag = None
    woke = [t for t in runs if t.startswith("clusterd") and any(wake[t])]
    if woke:
        diag = strace_window(runs[woke[0]].sup, min(P["idle_secs"], 5.0))
    stop_all(runs)
    res["memory"] = dict(rss=mem, rss_after=mem2, smaps=smaps, by_file=by_file, libs=libs)
    if max(v["rss"] for t, v in mem.items() if t.startswith("clusterd") and "norand" not in t) > 2048:
        try:
            res["memory"]["whatif"] = rss_whatif()
        except Exception as e:  # noqa: BLE001 - an explanation, not a result
            log(f"memory: relinking clusterd for the explanation failed: {e}")
    res["idle"] = dict(wakeups=wake, secs=P["idle_secs"], strace=diag)


def strace_window(pid, secs):
    """What a process does in secs: strace, for the report of a miss."""
    if not shutil.which("strace"):
        return None
    path = os.path.join(OUT, f"strace-{pid}.txt")
    p = subprocess.Popen(["strace", "-tt", "-p", str(pid), "-o", path],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(secs)
    p.send_signal(signal.SIGINT)
    p.wait(timeout=10)
    return read(path)[-3000:]


def respawn_specs():
    conf = os.path.join(OUT, "respawn.conf")
    with open(conf, "w") as f:
        f.write("# each kill is a lone crash: the killed worker lived longer\n"
                "[program]\nstable_after = 50ms\n")
    return [
        ("clusterd-c", "clusterd", "c", ["-c", conf], P["kills_c"]),
        ("clusterd-seed", "clusterd", "seedfd", ["-c", conf], P["kills_node"]),
        ("pm2", "pm2", "seed", ["--max-restarts", "1000000"], P["kills_node"]),
    ]


def bench_respawn(res):
    log("respawn: 1 worker each, kill -9 and wait for the replacement")
    specs = respawn_specs()
    runs = {}
    for tag, kind, app, extra, _ in specs:
        runs[tag] = Run(kind, app, 1, free_port(), "respawn-" + tag, extra)
    for r in runs.values():
        r.wait_ready()
    rows = {tag: [] for tag, *_ in specs}
    blocks = P["kill_blocks"]
    for b in range(blocks):
        for tag, kind, app, extra, kills in (specs if b % 2 == 0 else specs[::-1]):
            r = runs[tag]
            k = kills // blocks
            out = os.path.join(OUT, f"respawn-{tag}-{b}.txt")
            p = run([os.path.join(TOOLS, "respawn"), "-s", str(r.sup), "-p",
                     str(r.port), "-k", str(k), "-g", "60", "-o", out],
                    timeout=600)
            if p.returncode != 0:
                raise RuntimeError(f"respawn {tag}: {p.stdout[-500:]}")
            for line in read(out).splitlines():
                f = line.split()
                rows[tag].append(dict(exit=float(f[0]) / 1e3, fork=float(f[1]) / 1e3,
                                      exec=float(f[2]) / 1e3, accept=float(f[3]) / 1e3,
                                      attempts=int(f[4]), lost=int(f[5])))
            log(f"respawn: {tag} block {b + 1}/{blocks} done")
    restarts = {}
    for tag, r in runs.items():
        if r.reader:
            restarts[tag] = sum("restarting" in l for _, l in r.reader.lines)
    stop_all(runs)
    res["respawn"] = dict(rows=rows, restarts=restarts)


def watched(kind, n, tag, extra=()):
    """A launcher started under bench/spawnwatch (kernel-stamped start/stop)."""
    port = free_port()
    t0 = time.monotonic()
    r = Run(kind, "c", n, port, tag, extra, watch=n)
    return r, t0


def spawnwatch_line(r, what, timeout):
    t = r.reader.wait_for(rf"spawnwatch: {what}", timeout)
    if t is None:
        raise RuntimeError(f"{r.tag}: no 'spawnwatch: {what}' in {timeout}s")
    line = [l for _, l in r.reader.lines if l.startswith(f"spawnwatch: {what.split()[0]}")][-1]
    us = [int(x) for x in re.findall(r"(-?\d+) us", line)]
    return us[0] / 1e6, us[1] / 1e6


def bench_scale(res):
    log("scale: clusterd and the minimal launcher with N C hello workers")
    rows = {n: [] for n in P["scale"]}
    for rnd in range(P["scale_rounds"]):
        for n in P["scale"]:
            row = {}
            for kind in (("clusterd", "minimal") if rnd % 2 == 0 else ("minimal", "clusterd")):
                r, t0 = watched(kind, n, f"scale-{kind}-{n}-{rnd}",
                                ["--cgroups=no"] if kind == "clusterd" else [])
                up, cpu_up = spawnwatch_line(r, f"{n} running", 120)
                row[kind + "_up"], row[kind + "_cpu_up"] = up, cpu_up
                if kind == "clusterd":
                    t_ready = r.reader.wait_for(rf"\b{n} workers? ready", 60)
                    row["ready_log"] = t_ready - t0
                    time.sleep(0.2)
                    js = json.loads(run([CTL, "-s", r.ctl, "status", "--json"]).stdout)
                    row["ready_json"] = js["workers_ready"]
                    lat_text, lat_json = [], []
                    for _ in range(5):
                        a = time.monotonic()
                        run([CTL, "-s", r.ctl, "status"])
                        b = time.monotonic()
                        run([CTL, "-s", r.ctl, "status", "--json"])
                        lat_text.append(b - a)
                        lat_json.append(time.monotonic() - b)
                    row["status"], row["status_json"] = median(lat_text), median(lat_json)
                else:
                    time.sleep(0.2)
                row[kind + "_rss"] = rss_kib(r.sup)["rss"]
                r.proc.send_signal(signal.SIGTERM)
                stop, cpu_all = spawnwatch_line(r, "stopped", 120)
                r.proc.wait(timeout=60)
                STARTED.remove(r)
                r.reader.join(timeout=5)
                row[kind + "_stop"], row[kind + "_cpu_all"] = stop, cpu_all
            rows[n].append(row)
            log(f"scale: {n} workers: clusterd up {row['clusterd_up']:.3f}s "
                f"(minimal {row['minimal_up']:.3f}s), stop {row['clusterd_stop']:.3f}s "
                f"(minimal {row['minimal_stop']:.3f}s)")
    res["scale"] = rows
    big = max(P["scale"])
    if median([x["clusterd_up"] for x in rows[big]]) > 1.0 or big < 1000:
        res["scale_why"] = scale_why(big)


def ctl_exchange(path, line, timeout=30.0):
    """One request on a new control connection: (seconds, answer)."""
    t0 = time.monotonic()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(line.encode())
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    return time.monotonic() - t0, data.decode(errors="replace")


def bench_spawnlat(res):
    """The longest a control request or SIGTERM waits while N workers start
    (issue 11): `scale 0` -> `scale N` of C hello workers, `status` asked
    over and over on new connections until all are ready; then, in a
    second scale-up, SIGTERM once a tenth have started, timed to the
    "stopping" log line."""
    n = P["spawnlat_n"]
    log(f"spawnlat: status and SIGTERM while {n} workers start")
    rows = []
    for rnd in range(P["spawnlat_rounds"]):
        r = Run("clusterd", "c", 0, free_port(), f"spawnlat-{rnd}")
        if r.reader.wait_for(r"no workers to start", 30) is None:
            raise RuntimeError(f"{r.tag}: clusterd did not start")
        row = dict(status=[], scale_up=None)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sc:
            sc.connect(r.ctl)
            t0 = time.monotonic()
            sc.sendall(f"scale {n}\n".encode())
            end = t0 + 120
            while time.monotonic() < end:
                dt, ans = ctl_exchange(r.ctl, "status\n")
                row["status"].append(dt)
                if f" {n} of {n} workers ready" in ans:
                    break
            row["scale_up"] = time.monotonic() - t0
        ctl_exchange(r.ctl, "scale 0\n")
        end = time.monotonic() + 60
        while r.workers() and time.monotonic() < end:
            time.sleep(0.05)
        before = sum(" started" in l for _, l in r.reader.lines)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sc:
            sc.connect(r.ctl)
            sc.sendall(f"scale {n}\n".encode())
            end = time.monotonic() + 60
            while time.monotonic() < end and \
                    sum(" started" in l for _, l in r.reader.lines) < before + n // 10:
                time.sleep(0.001)
            t_kill = time.monotonic()
            r.proc.send_signal(signal.SIGTERM)
            t_stop = r.reader.wait_for(r"stopping \d+ workers?", 60)
        row["sigterm"] = (t_stop - t_kill) if t_stop else float("nan")
        r.proc.wait(timeout=60)
        STARTED.remove(r)
        r.reader.join(timeout=5)
        row["started_after"] = sum(" started" in l for _, l in r.reader.lines) - before
        rows.append(row)
        log(f"spawnlat: round {rnd + 1}: {len(row['status'])} status answers in "
            f"{row['scale_up']:.2f}s, slowest {max(row['status']) * 1e3:.1f} ms; "
            f"SIGTERM {row['sigterm'] * 1e3:.1f} ms ({row['started_after']} of {n} started)")
    res["spawnlat"] = dict(n=n, rows=rows)


def scale_why(n):
    """Where clusterd's own time goes starting workers: strace -c (system
    time per call) at n and at a tenth of n, and the file system of /run."""
    if not shutil.which("strace"):
        return None
    calls = {}
    notify_dir = None
    for size in (max(1, n // 10), n):
        path = os.path.join(OUT, f"scale-strace-{size}.txt")
        ctl = os.path.join(OUT, "ctl-scale-strace.sock")
        p = subprocess.Popen(["strace", "-c", "-o", path, CLUSTERD, "--cgroups=no",
                              "-n", str(size), "-l",
                              f"127.0.0.1:{free_port()}", "-s", ctl, "--", HELLO],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
        reader = LogReader(p.stdout, os.path.join(OUT, "scale-strace.log"))
        reader.wait_for(rf"\b{size} workers? ready", 120)
        notify_dir = notify_dir or worker_notify_dir(ctl)
        run([CTL, "-s", ctl, "stop"], timeout=60)
        p.wait(timeout=60)
        reader.join(timeout=5)
        calls[size] = {}
        for line in read(path).splitlines():
            f = line.split()
            if len(f) >= 5 and re.match(r"^\d", f[0]) and f[-1] != "total":
                calls[size][f[-1]] = (int(f[3]), int(f[2]), float(f[1]))
    return dict(n=n, calls={str(k): v for k, v in calls.items()},
                notify_dir=notify_dir or "?", notify_fs=fs_type(notify_dir or "/run"),
                binds=bind_costs())


def worker_notify_dir(ctl):
    """The directory of a running clusterd's notify sockets, from one of its
    workers' NOTIFY_SOCKET."""
    r = run([CTL, "-s", ctl, "status", "--json"], timeout=30)
    try:
        pid = next(w["pid"] for w in json.loads(r.stdout)["workers"] if w["pid"])
        env = read(f"/proc/{pid}/environ").split("\0")
        path = next(e.split("=", 1)[1] for e in env if e.startswith("NOTIFY_SOCKET="))
        return os.path.dirname(path)
    except (ValueError, KeyError, StopIteration, OSError):
        return None


def fs_type(path):
    """The file system type of the mount that holds path (longest prefix)."""
    best, fs = "", "?"
    for line in read("/proc/mounts").splitlines():
        f = line.split()
        if len(f) > 2 and (path.rstrip("/") + "/").startswith(f[1].rstrip("/") + "/") \
                and len(f[1]) >= len(best):
            best, fs = f[1], f[2]
    return fs


def bind_costs():
    """µs per socket()+bind() of a datagram socket, N of them in one
    directory: on /run (root's control directory is there; clusterd puts
    its NOTIFY_SOCKETs there when it is a tmpfs, else in /dev/shm), on
    tmpfs, and abstract."""
    import tempfile
    out = {}
    places = [("/run", "/run")]
    if os.path.isdir("/dev/shm"):
        places.append(("tmpfs (/dev/shm)", "/dev/shm"))
    places.append(("abstract", None))
    for label, base in places:
        for n in (100, 1000):
            d = tempfile.mkdtemp(prefix="clusterd-bench-", dir=base) if base else None
            socks = []
            t0 = time.perf_counter()
            try:
                for i in range(n):
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    socks.append(s)
                    s.bind(os.path.join(d, str(i)) if d else f"\0clusterd-bench-{os.getpid()}-{i}")
                out[f"{label} {n}"] = (time.perf_counter() - t0) / n * 1e6
            finally:
                for s in socks:
                    s.close()
                if d:
                    shutil.rmtree(d, ignore_errors=True)
    return out


def reuseport_supported():
    r = run([CLUSTERD, "--reuseport", "--check", "-n", "1", "-l", "127.0.0.1:0",
             "--", "true"], timeout=10)
    return r.returncode == 0, r.stdout.strip().splitlines()[0] if r.stdout.strip() else ""


def loadgen(port, secs, conc, records=None):
    cmd = [os.path.join(TOOLS, "loadgen"), "-p", str(port), "-c", str(conc),
           "-d", str(secs)]
    if records:
        cmd += ["-o", records]
    r = run(cmd, timeout=secs + 60)
    return parse_loadgen(r.stdout)


def parse_loadgen(text):
    line = text.strip().splitlines()[-1]
    d = {}
    for kv in line.split():
        k, _, v = kv.partition("=")
        d[k] = v
    d["per_worker"] = {int(a): int(b) for a, b in
                       (x.split(":") for x in d.get("workers", "").split(",") if x)}
    return d


def bench_balance(res):
    ok, why = reuseport_supported()
    specs = [("clusterd-c", "clusterd", "c"), ("minimal-c", "minimal", "c"),
             ("clusterd-node", "clusterd", "node")]
    extra = {}
    if ok:
        specs += [("clusterd-c-reuseport", "clusterd", "c"),
                  ("clusterd-node-reuseport", "clusterd", "node")]
        extra = {"clusterd-c-reuseport": ["--reuseport"],
                 "clusterd-node-reuseport": ["--reuseport"]}
    log("balance: 8 workers each" + ("" if ok else f" (--reuseport: {why})"))
    runs = start_all("balance", specs, 8, extra)
    shares = {t: [] for t in runs}
    counts = {t: [] for t in runs}
    for rnd in range(P["balance_rounds"]):
        order = list(runs)[rnd % len(runs):] + list(runs)[:rnd % len(runs)]
        for tag in order:
            d = loadgen(runs[tag].port, P["balance_secs"], 16)
            c = [d["per_worker"].get(i, 0) for i in range(8)]
            counts[tag].append(c)
            shares[tag].append(max(c) / min(c) if min(c) > 0 else float("inf"))
    stop_all(runs)
    res["balance"] = dict(ratio=shares, counts=counts, reuseport=ok, why=why)


def bench_rolling(res):
    log("rolling restart under connection-per-request load (2 workers each)")
    specs = [("clusterd-c", "clusterd", "c"), ("clusterd-node", "clusterd", "node"),
             ("clusterd-node-ready", "clusterd", "node"), ("clusterd-seed", "clusterd", "seedfd"),
             ("pm2", "pm2", "seed")]
    runs = start_all("rolling", specs, 2, {"clusterd-node-ready": ["--ready=1s"]})
    rows = {t: [] for t in runs}
    for rnd in range(P["rolling_rounds"]):
        for tag in (list(runs) if rnd % 2 == 0 else list(runs)[::-1]):
            r = runs[tag]
            rec = os.path.join(OUT, f"rolling-{tag}-{rnd}.txt")
            lg = subprocess.Popen([os.path.join(TOOLS, "loadgen"), "-p", str(r.port),
                                   "-c", "8", "-d", "120", "-o", rec],
                                  stdout=subprocess.PIPE, text=True)
            t_load = time.monotonic()
            time.sleep(1.0)
            t0 = time.monotonic()
            if r.kind == "pm2":
                cmd = [PM2, "reload", r.pm2_name]
                c = run(cmd, env=dict(os.environ, PM2_HOME=PM2_HOME), timeout=120)
            else:
                cmd = [CTL, "-s", r.ctl, "restart"]
                c = run(cmd, timeout=120)
            t1 = time.monotonic()
            time.sleep(2.0)
            t2 = time.monotonic()
            lg.send_signal(signal.SIGTERM)
            summary = parse_loadgen(lg.communicate(timeout=60)[0])
            recs = []
            for line in read(rec).splitlines():
                s, l, code = line.split()
                recs.append((int(s) / 1e6, int(l) / 1e6, int(code)))
            during = [x for x in recs if x[0] <= t2 and x[0] + x[1] >= t0]
            before = [x for x in recs if t_load + 0.2 <= x[0] < t0]
            lat_d = [x[1] for x in during if x[2] == 200]
            lat_b = [x[1] for x in before if x[2] == 200]
            rows[tag].append(dict(
                secs=t1 - t0, rc=c.returncode, n_during=len(during),
                failed=int(summary["failed"]),
                failed_during=sum(1 for x in during if x[2] != 200),
                kinds={k: int(summary[k]) for k in ("connect", "io", "answer", "timeout")},
                p99_during=pct(lat_d, 0.99), p99_before=pct(lat_b, 0.99),
                max_during=max(lat_d) if lat_d else float("nan"),
                t_load=t_load, t0=t0, t1=t1, records=rec))
            log(f"rolling: {tag}: {t1 - t0:.2f}s, failed {summary['failed']}")
    stop_all(runs)
    res["rolling"] = rows


# ------------------------------------------------------------ cgroups (issue 13)

CG_HIGH, CG_MAX, CG_STEP = 48, 96, 8     # MiB: memory_high, memory_max, per /leak


def http_line(port, path, timeout=5.0):
    """GET path on a new connection: the body's first line, or None."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while True:
                b = s.recv(4096)
                if not b:
                    break
                data += b
    except OSError:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        return None
    return body.decode(errors="replace").strip()


def ctl_json(r):
    p = run([CTL, "-s", r.ctl, "status", "--json"], timeout=30)
    if p.returncode != 0:
        raise RuntimeError(f"{r.tag}: status --json: {p.stdout[-300:]}")
    return json.loads(p.stdout)


def cg_conf(name, body):
    path = os.path.join(OUT, f"{name}.conf")
    with open(path, "w") as f:
        f.write(body)
    return path


def fd_kinds(pid):
    """How many eventfds and inotify descriptors pid holds: its memory
    watches (v1: an eventfd per worker; v2: inotify watches on one fd)."""
    out = {"eventfd": 0, "inotify": 0}
    for link in fd_table(pid).values():
        for k in out:   # "anon_inode:[eventfd]" but "anon_inode:inotify"
            if link in (f"anon_inode:[{k}]", f"anon_inode:{k}"):
                out[k] += 1
    return out
    for n in names:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{n}")
        except OSError:
            continue
        for k in out:   # "anon_inode:[eventfd]" but "anon_inode:inotify"
            if link in (f"anon_inode:[{k}]", f"anon_inode:{k}"):
                out[k] += 1
    return out


def recycle_event(r, slot):
    """Grow the worker of slot past memory_high with /leak requests aimed at
    it; the times of the crossing logged, the replacement started and ready,
    and the old worker's exit."""
    old = next(w["pid"] for w in ctl_json(r)["workers"]
               if w["id"] == slot and w["state"] == "ready")
    t_begin = time.monotonic()
    crossed = rf"^clusterd: worker {slot} \(pid {old}\): memory\.high \S+ crossed"
    reqs, failed, t0 = [], 0, None
    # Every request reaches one of the workers; a quarter of them this one.
    for _ in range(r.n * 4 * (CG_MAX // CG_STEP)):
        ts = time.monotonic()
        line = http_line(r.port, f"/leak/{CG_STEP}/{slot}")
        te = time.monotonic()
        if line is None:
            failed += 1
            continue
        f = line.split()       # worker ID pid PID leaked N total T
        if int(f[3]) == old and int(f[5]) > 0:
            reqs.append((ts, te, int(f[7])))
            # The kernel's event is on its way once the total is over.
            wait = 2.0 if int(f[7]) >= CG_HIGH else 0.0
            t0, _ = r.reader.wait_after(crossed, t_begin, wait)
            if t0 is not None:
                break
        if time.monotonic() - t_begin > 60:
            break
    if t0 is None:
        raise RuntimeError(f"{r.tag}: worker {slot} (pid {old}) grew to "
                           f"{reqs[-1][2] if reqs else 0} MiB: no memory.high crossing logged")
    t_req, t_ans, _ = max(x for x in reqs if x[0] <= t0)
    t_started, _ = r.reader.wait_after(rf"^clusterd: worker {slot} \(pid (\d+)\) started$",
                                       t0, 30, lambda m: int(m.group(1)) != old)
    t1, m = r.reader.wait_after(rf"^clusterd: worker {slot} \(pid (\d+)\) ready$",
                                t0, 30, lambda m: int(m.group(1)) != old)
    if t1 is None:
        raise RuntimeError(f"{r.tag}: no replacement of worker {slot} ready in 30 s")
    t_exit, mx = r.reader.wait_after(rf"^clusterd: worker {slot} \(pid {old}\) exited.*", t0, 30)
    if t_exit is None:
        raise RuntimeError(f"{r.tag}: worker {slot} (pid {old}) did not exit in 30 s")
    return dict(slot=slot, old=old, new=int(m.group(1)), requests=len(reqs),
                leaked=reqs[-1][2], failed=failed, request=t_ans - t_req,
                crossed=t1 - t0, from_request=t1 - t_req,
                started=(t_started - t0) if t_started else float("nan"),
                old_gone=t_exit - t0, recycled="(recycled: memory.high" in mx.group(0))


def bench_cgroups(res):
    """Issue 13's three figures: memory event -> replacement ready, idle
    wake-ups with every worker's memory watched, and the spawn cost of
    starting each worker in a cgroup of its own (clone3 CLONE_INTO_CGROUP)."""
    out = {}
    # 1. memory_high -> replacement ready.
    n = 4
    log(f"cgroups: {P['cg_events']} memory.high recycles, {n} leaking workers")
    conf = cg_conf("cgroups-recycle", "[clusterd]\ncgroups = yes\n[program]\n"
                   f"ready = notify\nmemory_high = {CG_HIGH}M\nmemory_max = {CG_MAX}M\n")
    r = Run("clusterd", "leaker", n, free_port(), "cgroups-recycle", ["-v", "-c", conf])
    r.wait_ready()
    st = ctl_json(r)
    events = []
    for k in range(P["cg_events"]):
        e = recycle_event(r, k % n)
        events.append(e)
        log(f"cgroups: recycle {k + 1}: worker {e['slot']} at {e['leaked']} MiB leaked, "
            f"crossed -> ready {e['crossed'] * 1e3:.1f} ms, request -> ready "
            f"{e['from_request'] * 1e3:.1f} ms")
    others = sum(1 for _, l in r.reader.lines if "crossed before it was ready" in l
                 or "OOM" in l or "recycling failed" in l)
    r.stop()
    # clusterd's own v2 cgroup, where the cost of a cgroup is measured
    base = (st.get("cgroups") or {}).get("path")
    out["recycle"] = dict(events=events, n=n, cgroups=st.get("cgroups"), anomalies=others,
                          high=CG_HIGH, max=CG_MAX, step=CG_STEP)

    # 2. Idle wake-ups, side by side.
    log("cgroups: idle wake-ups, --cgroups=yes with memory_high beside --cgroups=no")
    conf = cg_conf("cgroups-idle", f"[program]\nmemory_high = {CG_MAX}M\n")
    specs = {"yes": ["--cgroups=yes", "-c", conf], "no": ["--cgroups=no"]}
    runs = {m: Run("clusterd", "c", 8, free_port(), f"cgroups-idle-{m}", x)
            for m, x in specs.items()}
    for x in runs.values():
        x.wait_ready()
    time.sleep(2.0)   # let start-up work settle, as the idle part does
    modes = {m: (ctl_json(x).get("cgroups") or {}).get("mode", "off") for m, x in runs.items()}
    fds = {m: fd_kinds(x.sup) for m, x in runs.items()}
    rss = {m: rss_kib(x.sup) for m, x in runs.items()}
    wake = {m: [] for m in runs}
    for _ in range(P["idle_windows"]):
        before = {m: ctxt(x.sup) for m, x in runs.items()}
        time.sleep(P["idle_secs"])
        after = {m: ctxt(x.sup) for m, x in runs.items()}
        for m in runs:
            wake[m].append(after[m] - before[m])
    diag = None
    if any(wake["yes"]):
        diag = strace_window(runs["yes"].sup, min(P["idle_secs"], 5.0))
    stop_all(runs)
    out["idle"] = dict(wakeups=wake, secs=P["idle_secs"], modes=modes, fds=fds, rss=rss,
                       strace=diag)

    # 3. Spawn cost: N workers up, each in a cgroup of its own or not.
    big = P["cg_spawn_n"]
    log(f"cgroups: {big} workers up, --cgroups=yes and --cgroups=no, "
        f"{P['scale_rounds']} rounds")
    rows = []
    for rnd in range(P["scale_rounds"]):
        row = {}
        for m in (("yes", "no") if rnd % 2 == 0 else ("no", "yes")):
            x, t0 = watched("clusterd", big, f"cgroups-spawn-{m}-{rnd}", [f"--cgroups={m}"])
            row[m + "_up"], row[m + "_cpu_up"] = spawnwatch_line(x, f"{big} running", 180)
            t_ready = x.reader.wait_for(rf"\b{big} workers? ready", 120)
            row[m + "_ready"] = (t_ready - t0) if t_ready else float("nan")
            x.proc.send_signal(signal.SIGTERM)
            row[m + "_stop"], row[m + "_cpu_all"] = spawnwatch_line(x, "stopped", 180)
            x.proc.wait(timeout=60)
            STARTED.remove(x)
            x.reader.join(timeout=5)
        rows.append(row)
        log(f"cgroups: round {rnd + 1}: up {row['yes_up']:.3f} s with cgroups, "
            f"{row['no_up']:.3f} s without; clusterd CPU {row['yes_cpu_up'] * 1e3:.0f} / "
            f"{row['no_cpu_up'] * 1e3:.0f} ms")
    out["spawn"] = dict(n=big, rows=rows)
    ru = ratios([x["yes_up"] for x in rows], [x["no_up"] for x in rows])
    rcpu = ratios([x["yes_cpu_up"] for x in rows], [x["no_cpu_up"] for x in rows])
    if max(median(ru), median(rcpu)) > 1.2 or P is PROFILES["quick"]:
        try:
            out["spawn_why"] = cgroups_spawn_why(big, os.path.dirname(base) if base else None)
        except Exception as e:  # noqa: BLE001 - an explanation, not a result
            log(f"cgroups: strace of the spawn failed: {e}")
    res["cgroups"] = out


def cgroups_spawn_why(n, root):
    """Where clusterd's system time goes starting n workers with and without
    cgroups: strace -c of clusterd alone (not its workers), system time per
    call, start and stop."""
    if not shutil.which("strace"):
        return None
    calls = {}
    for m in ("yes", "no"):
        path = os.path.join(OUT, f"cgroups-strace-{m}.txt")
        ctl = os.path.join(OUT, "ctl-cgroups-strace.sock")
        p = subprocess.Popen(["strace", "-c", "-o", path, CLUSTERD, f"--cgroups={m}",
                              "-n", str(n), "-l", f"127.0.0.1:{free_port()}", "-s", ctl,
                              "--", HELLO],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
        reader = LogReader(p.stdout, os.path.join(OUT, f"cgroups-strace-{m}.log"))
        try:
            if reader.wait_for(rf"\b{n} workers? ready", 180) is None:
                raise RuntimeError(f"strace of clusterd --cgroups={m}: not ready in 180 s")
            run([CTL, "-s", ctl, "stop"], timeout=120)
            p.wait(timeout=120)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        reader.join(timeout=5)
        calls[m] = {}
        for line in read(path).splitlines():
            f = line.split()
            if len(f) >= 5 and re.match(r"^\d", f[0]) and f[-1] != "total":
                calls[m][f[-1]] = (int(f[3]), int(f[2]), float(f[1]))
    ops = {}
    if root:
        for k in (100, n):
            ops[str(k)] = cgroup_op_costs(root, k)
    return dict(n=n, calls=calls, ops=ops, root=root)


def cgroup_op_costs(root, n):
    """µs per operation clusterd does for each worker with cgroups on, n
    sibling cgroups in a scratch cgroup under root, from Python (no strace):
    what a cgroup per worker costs the kernel, without clusterd around it."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    base = os.path.join(root, f"clusterd-bench-ops-{os.getpid()}")
    os.mkdir(base)
    ino = libc.inotify_init1(os.O_CLOEXEC)
    out, fds, made = {}, [], []
    names = [os.path.join(base, f"worker-{i}.g1") for i in range(n)]
    try:
        t = time.perf_counter()
        for p in names:
            os.mkdir(p)
            made.append(p)
        out["mkdir"] = time.perf_counter() - t
        t = time.perf_counter()
        fds = [os.open(p, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC) for p in names]
        out["open"] = time.perf_counter() - t
        t = time.perf_counter()
        wds = [libc.inotify_add_watch(ino, (p + "/cgroup.events").encode(), 2) for p in names]
        out["inotify_add_watch"] = time.perf_counter() - t
        t = time.perf_counter()
        for wd in wds:
            libc.inotify_rm_watch(ino, wd)
        out["inotify_rm_watch"] = time.perf_counter() - t
        t = time.perf_counter()
        for p in names:
            os.stat(p)
        out["stat (a cheap call, for scale)"] = time.perf_counter() - t
        for fd in fds:
            os.close(fd)
        fds = []
        t = time.perf_counter()
        for p in names:
            os.rmdir(p)
            made.remove(p)
        out["rmdir"] = time.perf_counter() - t
    finally:
        for fd in fds:
            os.close(fd)
        os.close(ino)
        for p in made:
            os.rmdir(p)
        os.rmdir(base)
    return {k: v / n * 1e6 for k, v in out.items()}


# ------------------------------------------------------------------ report

# ------------------------------------------------------------ upgrade (issue 14)

UP_LINE = r"^upgraded from (.+) to (.+) in (\d+) ms$"


def fd_table(pid):
    """pid's descriptors, {fd: what it is} (socket:[ino], pipe:[ino], a path)."""
    out = {}
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return out
    for n in names:
        try:
            out[int(n)] = os.readlink(f"/proc/{pid}/fd/{n}")
        except OSError:
            pass
    return out


def fd_kind_counts(tbl):
    """How many descriptors of each kind: socket, pipe, anon_inode:[eventfd], a path."""
    out = {}
    for link in tbl.values():
        k = re.sub(r":\[\d+\]$", "", link)
        out[k] = out.get(k, 0) + 1
    return out


def listen_inode(port):
    """The inode of the socket listening on 127.0.0.1:port (/proc/net/tcp)."""
    want = f"0100007F:{port:04X}"
    for line in read("/proc/net/tcp").splitlines()[1:]:
        f = line.split()
        if len(f) > 9 and f[1] == want and f[3] == "0A":
            return int(f[9])
    return None


def version_of(binary):
    out = run([binary, "--version"], timeout=10).stdout.strip()
    return out.split(" ", 1)[1] if out.startswith("clusterd ") else out


def load_records(path):
    recs = []
    for line in read(path).splitlines():
        s, l, code = line.split()
        recs.append((int(s) / 1e6, int(l) / 1e6, int(code)))
    return recs


def upgrade_one(r, to, version):
    """One `clusterctl upgrade TO`: the client's time, clusterd's figure and
    the moments this script read each log line of it (clusterd -v)."""
    t0 = time.monotonic()
    p = run([CTL, "-s", r.ctl, "upgrade", to], timeout=60)
    t1 = time.monotonic()
    m = re.search(UP_LINE, p.stdout, re.M)
    row = dict(to=os.path.basename(to), t0=t0, t1=t1, client=t1 - t0, rc=p.returncode,
               said=p.stdout.strip()[-300:],
               ok=bool(p.returncode == 0 and m and m.group(2) == version),
               ms=int(m.group(3)) if m else None)
    for key, rx in (("asked", r"upgrade to .* asked for"), ("upgrading", r"upgrading to "),
                    ("kept", r"kept .* over the upgrade"), ("done", r"upgraded from .* in \d+ ms")):
        t, _ = r.reader.wait_after(rx, t0, 5 if row["ok"] else 0.2)
        row[key] = t
    return row


def upgrade_series(r, count, state, load=False):
    """count upgrades, alternating the two builds, each up_gap apart; with a
    connection-per-request load on the port meanwhile if load."""
    rec = os.path.join(OUT, f"{r.tag}-{'load' if load else 'idle'}.txt")
    lg = None
    if load:
        bound = count * (P["up_gap"] + 5) + 30
        lg = subprocess.Popen([os.path.join(TOOLS, "loadgen"), "-p", str(r.port), "-c", "8",
                               "-d", str(int(bound)), "-o", rec], stdout=subprocess.PIPE, text=True)
        time.sleep(1.0)
    rows = []
    try:
        for i in range(count):
            to = ALT if state["on"] == CLUSTERD else CLUSTERD
            row = upgrade_one(r, to, state["versions"][to])
            if row["ok"]:
                state["on"] = to
            time.sleep(P["up_gap"])
            row["rss"] = rss_kib(r.sup)["rss"]
            row["fds"] = len(fd_table(r.sup))
            rows.append(row)
            if not row["ok"]:
                log(f"upgrade: {r.tag}: upgrade {i + 1} failed: {row['said']}")
                break
        if load:
            time.sleep(0.5)
    finally:
        if lg:
            lg.send_signal(signal.SIGTERM)
            out = lg.communicate(timeout=60)[0]
    out_load = None
    if lg:
        summary = parse_loadgen(out)
        recs = load_records(rec)
        wins = [(x["t0"], x["t1"]) for x in rows]
        inwin = lambda x: any(x[0] <= b and x[0] + x[1] >= a for a, b in wins)  # noqa: E731
        during = [x for x in recs if inwin(x)]
        outside = [x[1] for x in recs if not inwin(x) and x[2] == 200]
        ends = sorted(x[0] + x[1] for x in recs if x[2] == 200)
        t_first = rows[0]["t0"] if rows else 0
        t_last = rows[-1]["t1"] if rows else 0
        gaps = [b - a for a, b in zip(ends, ends[1:]) if b >= t_first and a <= t_last]
        out_load = dict(requests=len(recs), failed=int(summary["failed"]),
                        kinds={k: int(summary[k]) for k in ("connect", "io", "answer", "timeout")},
                        during=len(during),
                        failed_during=sum(1 for x in during if x[2] != 200),
                        max_during=max((x[1] for x in during if x[2] == 200), default=float("nan")),
                        max_all=max((x[1] for x in recs if x[2] == 200), default=float("nan")),
                        p50_outside=pct(outside, .5), p99_outside=pct(outside, .99),
                        max_outside=max(outside, default=float("nan")),
                        longest_quiet=max(gaps, default=float("nan")), records=rec)
    return rows, out_load


def upgrade_config(n, cg, versions):
    tag = f"upgrade-{n}-cg{cg}"
    r = Run("clusterd", "c", n, free_port(), tag, ["-v", f"--cgroups={cg}"])
    try:
        if r.reader.wait_for(rf"\b{n} workers? ready", 120) is None:
            raise RuntimeError(f"{tag}: not {n} ready in 120 s")
        r.wait_ready(60)
        time.sleep(1.0)      # let start-up work settle
        st = ctl_json(r)
        mode = (st.get("cgroups") or {}).get("mode", "off")
        before = dict(rss=rss_kib(r.sup), heap=dict(rss_by_file(r.sup)).get("[heap]", 0),
                      fds=fd_table(r.sup), workers=sorted(r.workers()),
                      inode=listen_inode(r.port), pid=r.sup)
        state = dict(on=CLUSTERD, versions=versions)
        # With no load first: at 1000 workers the load keeps both cores
        # busy for a while after it ends, which the idle figures must not see.
        log(f"upgrade: {n} workers, --cgroups={cg} ({mode}): {P['up_count']} upgrades, "
            "no load")
        idle, _ = upgrade_series(r, P["up_count"], state)
        time.sleep(1.0)
        log(f"upgrade: {n} workers, --cgroups={cg}: {P['up_count']} more under load")
        loaded, load = upgrade_series(r, P["up_count"], state, load=True)
        if state["on"] != CLUSTERD:      # end on the binary it started as
            loaded += upgrade_series(r, 1, state)[0]
        time.sleep(0.5)
        after = dict(rss=rss_kib(r.sup), heap=dict(rss_by_file(r.sup)).get("[heap]", 0),
                     fds=fd_table(r.sup), workers=sorted(r.workers()),
                     inode=listen_inode(r.port), alive=r.proc.poll() is None)
        problems = [l for _, l in r.reader.lines
                    if re.search(r"refused|failed|cannot|error|warn|falling back", l, re.I)]
    finally:
        r.stop()
    ms = [x["ms"] for x in idle if x["ms"] is not None]
    lms = [x["ms"] for x in loaded if x["ms"] is not None]
    log(f"upgrade: {n} workers, --cgroups={cg}: p50 {pct(ms, .5)} ms, max "
        f"{max(ms, default=None)} ms (under load {pct(lms, .5)}, {max(lms, default=None)}); "
        f"failed requests {load['failed']}; "
        f"RSS {before['rss']['rss']} -> {after['rss']['rss']} KiB, "
        f"fds {len(before['fds'])} -> {len(after['fds'])}")
    kinds = (fd_kind_counts(before["fds"]), fd_kind_counts(after["fds"]))
    return dict(n=n, cg=cg, mode=mode, loaded=loaded, idle=idle, load=load,
                rss_before=before["rss"], rss_after=after["rss"],
                heap_before=before["heap"], heap_after=after["heap"],
                fds_before=len(before["fds"]), fds_after=len(after["fds"]),
                fd_kinds_before=kinds[0], fd_kinds_after=kinds[1],
                same_pid=after["alive"], same_workers=before["workers"] == after["workers"],
                same_socket=before["inode"] is not None and before["inode"] == after["inode"],
                problems=problems[:20])


def bench_upgrade(res):
    """Issue 14: clusterctl upgrade alternating two builds, at 8 and 1000
    workers, with and without a cgroup per worker; the pause as clusterd
    says it, as the client sees it, and as a load on the port sees it."""
    if not os.access(ALT, os.X_OK):
        raise RuntimeError(f"{ALT} is missing: make t/alt/clusterd")
    versions = {CLUSTERD: version_of(CLUSTERD), ALT: version_of(ALT)}
    loads = [" ".join(read("/proc/loadavg").split()[:3])]
    cgs = ["no"]
    if os.geteuid() == 0:
        cgs.append("yes")
    configs = []
    for n in P["up_sizes"]:
        for cg in cgs:
            try:
                configs.append(upgrade_config(n, cg, versions))
            except Exception as e:  # noqa: BLE001 - say it, go on with the others
                if cg == "no":
                    raise
                log(f"upgrade: {n} workers, --cgroups=yes: {e}")
                configs.append(dict(n=n, cg=cg, error=str(e)))
    loads.append(" ".join(read("/proc/loadavg").split()[:3]))
    out = dict(configs=configs, versions=list(versions.values()), count=P["up_count"],
               gap=P["up_gap"], loads=loads)
    big = max(P["up_sizes"])
    ms = [x["ms"] for c in configs if c["n"] == big and c["cg"] == "no" and "error" not in c
          for x in c["idle"] if x["ms"] is not None]
    if pct(ms, .5) > 50 or P is PROFILES["quick"]:
        try:
            out["why"] = upgrade_why(big, versions)
        except Exception as e:  # noqa: BLE001 - an explanation, not a result
            log(f"upgrade: profiling failed: {e}")
    res["upgrade"] = out


def upgrade_why(n, versions):
    """Where an upgrade's time goes at n workers, clusterd --cgroups=no:
    strace -c -f of one upgrade (the calls, per worker), and perf of a few
    (clusterd's functions, the old image, the check child and the new)."""
    out = {}
    r = Run("clusterd", "c", n, free_port(), f"upgrade-why-{n}", ["-v", "--cgroups=no"])
    try:
        if r.reader.wait_for(rf"\b{n} workers? ready", 120) is None:
            raise RuntimeError(f"not {n} ready")
        time.sleep(1.0)
        state = dict(on=CLUSTERD, versions=versions)
        if shutil.which("strace"):
            path = os.path.join(OUT, f"upgrade-strace-{n}.txt")
            s = subprocess.Popen(["strace", "-c", "-f", "-o", path, "-p", str(r.sup)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)
            rows, _ = upgrade_series(r, 1, state)
            s.send_signal(signal.SIGINT)
            s.wait(timeout=30)
            calls = {}
            for line in read(path).splitlines():
                f = line.split()
                if len(f) >= 5 and re.match(r"^\d", f[0]) and f[-1] != "total":
                    calls[f[-1]] = (int(f[3]), int(f[2]), float(f[1]))
            out["strace"] = dict(calls=calls, ms=rows[0]["ms"] if rows else None)
        if shutil.which("perf"):
            data = os.path.join(OUT, f"upgrade-perf-{n}.data")
            k = 4
            s = subprocess.Popen(["perf", "record", "-q", "-F", "10000", "--call-graph",
                                  "dwarf,16384", "-o", data, "-p", str(r.sup)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)
            rows, _ = upgrade_series(r, k, state)
            time.sleep(0.2)
            s.send_signal(signal.SIGINT)
            s.wait(timeout=60)
            out["perf"] = perf_summary(data)
            out["perf"]["ms"] = [x["ms"] for x in rows]
        if state["on"] != CLUSTERD:
            upgrade_series(r, 1, state)
    finally:
        r.stop()
    return out


def perf_summary(data):
    """perf report: the share of samples by process name (the check child
    runs as "4", exec'd from /proc/self/fd/4), and by clusterd function,
    callees included."""
    rep = run(["perf", "report", "-i", data, "--stdio", "--children", "-g", "none",
               "--sort", "comm,dso,sym"], timeout=300).stdout
    rx = re.compile(r"^\s*([\d.]+)%\s+([\d.]+)%\s+(\S+)\s+(\S+)\s+\[(.)\]\s+(.+?)\s*$")
    funcs, kernel_self, by_comm = {}, {}, {}
    for line in rep.splitlines():
        m = rx.match(line)
        if not m:
            continue
        ch, sf, comm, dso, kind, sym = m.groups()
        ch, sf = float(ch), float(sf)
        by_comm[comm] = by_comm.get(comm, 0.0) + sf
        if kind == "k":
            kernel_self[comm] = kernel_self.get(comm, 0.0) + sf
        elif dso.startswith("clusterd"):
            key = (comm, sym)
            funcs[key] = max(funcs.get(key, 0.0), ch)
    top = sorted(funcs.items(), key=lambda kv: -kv[1])[:40]
    return dict(by_comm=by_comm, kernel_self=kernel_self,
                funcs=[(c, s, v) for (c, s), v in top])


def machine():
    cpu = "?"
    for line in read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = read("/proc/meminfo").split("\n")[0].split()[1]

    def ver(cmd):
        try:
            return run(cmd, timeout=60).stdout.strip().splitlines()[0]
        except Exception:  # noqa: BLE001
            return "?"
    return dict(cores=os.cpu_count(), kernel=platform.release(), cpu=cpu,
                mem_gib=round(int(mem) / 1048576, 1),
                os=dict(l.split("=", 1) for l in read("/etc/os-release").splitlines()
                        if "=" in l).get("PRETTY_NAME", "?").strip('"'),
                node=ver([NODE, "--version"]),
                wrk=re.sub(r"^wrk (\S+).*", r"wrk \1", ver([WRK, "-v"])),
                pm2=json.loads(read(os.path.join(PEERS, "node_modules", "pm2", "package.json"))
                               or '{"version": "-"}')["version"],
                clusterd=ver([CLUSTERD, "-V"]),
                commit=ver(["git", "-C", SRC, "describe", "--always", "--dirty"]))


def yes(ok):
    if ok == "noise":
        return "within noise"
    return "**met**" if ok else "**MISSED**"


def noise_band(aa):
    """How far from 1 a median ratio of this run strays by noise alone: the
    larger of the A/A median's own distance from 1 and twice the standard
    error of a median (from the A/A ratios' interquartile range)."""
    if len(aa) < 2:
        return float("inf")
    q1, q3 = pct(aa, 0.25), pct(aa, 0.75)
    se = 1.2533 * (q3 - q1) / 1.349 / len(aa) ** 0.5
    return max(abs(1 - median(aa)), 2 * se)


def verdict(value, target, aa):
    """met, missed, or "noise": below the target by less than the noise band
    of the A/A pair (two identical launchers) in this same run."""
    if value != value:
        return None
    if value >= target:
        return True
    if target - value <= noise_band(aa):
        return "noise"
    return False


def fmt_ms(x):
    return "-" if x != x else (f"{x * 1e3:.2f}" if x < 1 else f"{x * 1e3:.0f}")


def report(res, args, t_total, loads):
    m = res["machine"]
    L = []
    w = L.append
    w("# clusterd benchmarks\n")
    w(f"Made by `{res['command']}` on {res.get('when') or time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
      f"profile `{args.profile}`, {t_total / 60:.1f} minutes.\n")
    w(f"Machine: {m['cores']} cores, {m['cpu']}, {m['mem_gib']} GiB, kernel {m['kernel']}, "
      f"{m['os']}; node {m['node']}, {m['wrk']}, PM2 {m['pm2']}; "
      f"{m['clusterd']} (tree {m['commit']}, binary sha256 {m.get('sha', '?')}…, "
      "copied before the run so a rebuild cannot change it midway).\n")
    w(f"Load average of the machine at start / end: {loads[0]} / {loads[1]} "
      "(other work on the machine shows here; the side-by-side rounds spread it "
      "over every contender alike).\n")
    w("Every ratio is taken within one round (the contenders measured one after "
      "the other, rotating order, seconds apart) and the table gives the median "
      "over rounds and the spread (min–max) of those per-round ratios. Raw data: "
      "`bench/out/` in the build tree.\n")
    summary = []

    if "throughput" in res:
        t = res["throughput"]
        rps = t["rps"]
        w("## Throughput\n")
        w(f"`wrk -t{P['wrk_threads']} -c{P['wrk_conns']} -d{P['slice']:g}s "
          "[-H 'Connection: close'] http://127.0.0.1:PORT/`, 2 workers each, every "
          "contender started anew for each round (a node process keeps what its JIT "
          "made of its first requests: two instances of one program can differ by "
          "20% for their whole life), warmed up for 1 s, and loaded alone, one after "
          f"the other: {P['rounds']} rounds, each of both modes. The contenders are "
          "grouped with the reference they are divided by (the minimal launcher "
          "running the same app; node:cluster for the seed app) and a group's "
          "slices run back to back, groups and order within them rotating from round "
          "to round, so each ratio compares slices a second or two apart. `minimal` "
          "is bench/minimal.c (bind, fork, exec with fd 3, wait): the physical limit "
          "of a supervisor that shares a socket. A second, identical minimal "
          "launcher (A/A) shows what ratio noise alone makes in this run.\n")
        w("\"req per CPU-s\" divides the requests by the CPU time the contender used "
          "in the slice (supervisor and workers, every thread, from "
          "/proc/PID/task/*/schedstat): the cost of a request whatever share of the "
          "machine the slice got. \"supervisor CPU\" is the supervising process's "
          "own CPU time in % of one core and \"wake-ups\" its context switches in "
          "the slice; \"busiest worker\" the share of the workers' CPU time that "
          "went to the busier of the two (50% = even).\n")
        for mode, title in (("close", "one connection per request (`Connection: close`)"),
                            ("keepalive", "keep-alive")):
            r, cpu = rps[mode], t["sup_cpu"][mode]
            eff = t.get("eff", {}).get(mode, {})
            w(f"### {title}\n")
            w("| contender | req/s median | min–max | ratio to reference, median | min–max | req per CPU-s | ratio to reference | supervisor CPU % | supervisor wake-ups | busiest worker % | errors |")
            w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
            for tag, kind, app, label, fam in t.get("contenders", CONTENDERS):
                base = reference(tag)
                rr = ratios(r[tag], r[base])
                er = ratios(eff.get(tag, []), eff.get(base, []))
                wk = t.get("wake", {}).get(mode, {}).get(tag, [])
                w(f"| {label} | {median(r[tag]):.0f} | {spread(r[tag], '{:.0f}')} | "
                  f"{'(reference)' if tag == base else f'{median(rr):.3f}'} | "
                  f"{'' if tag == base else spread(rr, '{:.3f}')} | {median(eff.get(tag, [])):.0f} | "
                  f"{'' if tag == base else f'{median(er):.3f}'} | {median(cpu[tag]):.1f} | "
                  f"{median(wk):g} | "
                  f"{median(t.get('split', {}).get(mode, {}).get(tag, [])):.0f} | "
                  f"{t['errors'][mode][tag]} |")
            w("")
            oth = t.get("others", {}).get(mode, [])
            w(f"Other work on the machine during these slices (CPU used by neither the "
              f"contender, its workers nor wrk): median {median(oth):.0f}% of one core "
              f"(min–max {spread(oth, '{:.0f}')}, of 200%).\n")
            rnc = ratios(r["clusterd-seed"], r["nodecluster"])
            rpm = ratios(r["clusterd-seed"], r["pm2"])
            rnn = ratios(r["clusterd-node"], r["nodecluster"])
            rrp = ratios(r["clusterd-seed-reuseport"], r["nodecluster"]) \
                if "clusterd-seed-reuseport" in r else []
            aa = ratios(r["minimal-c2"], r["minimal-c"])
            aan = ratios(r["minimal-node2"], r["minimal-node"]) if "minimal-node2" in r else aa
            w(f"Noise of this run, from the identical pairs: C ±{noise_band(aa):.3f}, "
              f"node ±{noise_band(aan):.3f} (see the summary's note).\n")
            w(f"The seed app, per round: clusterd / node:cluster **{median(rnc):.2f}×** "
              f"({spread(rnc)}); clusterd / PM2 **{median(rpm):.2f}×** ({spread(rpm)})" +
              (f"; clusterd --reuseport / node:cluster **{median(rrp):.2f}×** ({spread(rrp)})" if rrp else "") +
              f". clusterd running hello.js / node:cluster running the seed app: {median(rnn):.2f}×.\n")
            for a_, label, aa_ in (("clusterd-c", "clusterd C / minimal C", aa),
                                   ("clusterd-node", "clusterd node / minimal node", aan)):
                rr = ratios(r[a_], r[reference(a_)])
                er = ratios(eff.get(a_, []), eff.get(reference(a_), []))
                summary.append((f"throughput {mode}: {label}",
                                f"{median(rr):.3f} ({spread(rr, '{:.3f}')}); A/A {median(aa_):.3f}, "
                                f"noise ±{noise_band(aa_):.3f}; per CPU-s {median(er):.3f}",
                                "≥ 0.97", verdict(median(rr), 0.97, aa_)))
            if mode == "keepalive":
                summary.append(("throughput keep-alive: clusterd / node:cluster (seed app)",
                                f"{median(rnc):.2f} ({spread(rnc)})" +
                                (f"; with --reuseport {median(rrp):.2f}" if rrp else ""),
                                "≥ 1", verdict(median(rnc), 1.0, aan)))
            else:
                summary.append(("throughput close: clusterd / node:cluster, / PM2 (seed app)",
                                f"{median(rnc):.2f}× / {median(rpm):.2f}×", "-", None))
        w("![throughput](throughput.png)\n")

    if "memory" in res:
        mm = res["memory"]["rss"]
        w("## Supervisor memory, 8 workers\n")
        w("VmRSS of the supervising process alone (`/proc/PID/status`), 2 s after "
          "start and again after the idle windows; RssFile is shared library text, "
          "RssAnon its own heap and stack. All five ran at once; every clusterd "
          "with `--cgroups=no` (with a cgroup per worker: the cgroups part).\n")
        w("| supervisor | VmRSS KiB | after idle KiB | RssAnon KiB | RssFile KiB | threads | ratio to clusterd (C) |")
        w("|---|---:|---:|---:|---:|---:|---:|")
        names = {"clusterd-c": "clusterd (C hello workers)",
                 "clusterd-node": "clusterd (node hello.js workers)",
                 "minimal-c": "minimal launcher", "nodecluster": "node:cluster primary",
                 "pm2": "PM2 daemon (God)"}
        base = mm["clusterd-c"]["rss"]
        for tag in ("clusterd-c", "clusterd-node", "minimal-c", "nodecluster", "pm2"):
            x = mm[tag]
            w(f"| {names[tag]} | {x['rss']} | {res['memory']['rss_after'][tag]['rss']} | "
              f"{x['anon']} | {x['file']} | {x['threads']} | {x['rss'] / base:.1f} |")
        w("")
        starts = [v["rss"] for t, v in mm.items() if t.startswith("clusterd") and "norand" not in t]
        starts_after = [v["rss"] for t, v in res["memory"]["rss_after"].items()
                        if t.startswith("clusterd") and "norand" not in t]
        norand = [v["rss"] for t, v in mm.items() if "norand" in t]
        over = sum(1 for x in starts if x > 2048)
        w(f"clusterd, every start in this benchmark ({len(starts)}: C and node workers): VmRSS "
          f"median {median(starts):.0f} KiB, min–max {spread(starts, '{:.0f}')}, "
          f"{over} over 2048 KiB" +
          (f"; the same with address-space randomisation off (`setarch -R`, {len(norand)} "
           f"starts): {spread(norand, '{:.0f}')} KiB" if norand else "") +
          ". The spread is where ASLR puts libc: the kernel maps the resident pages "
          "of a 64 KiB window around each page fault (fault-around), and the windows "
          "are aligned in the address space, not in the file.\n")
        worst = max(starts + starts_after)
        summary.append(("supervisor RSS, 8 workers (clusterd)",
                        f"median {median(starts) / 1024:.2f} MiB, max {worst / 1024:.2f} MiB over "
                        f"{len(starts)} starts ({over} over 2 MiB); node:cluster {mm['nodecluster']['rss'] / 1024:.0f} MiB, "
                        f"PM2 {mm['pm2']['rss'] / 1024:.0f} MiB", "≤ 2 MiB", worst <= 2048))
        bf = res["memory"].get("by_file")
        if bf:
            mini = dict(bf["minimal-c"])
            w("Where the resident pages are (`/proc/PID/smaps`, Rss per mapping; a "
              "library's pages are shared with every process that maps it, but VmRSS "
              "counts them), and what clusterd takes from each library:\n")
            w("| mapping | clusterd KiB | minimal KiB | symbols clusterd uses from it |")
            w("|---|---:|---:|---|")
            for name, kib in bf["clusterd-c"]:
                if kib == 0:
                    continue
                syms = res["memory"]["libs"].get(name)
                shown = "-" if not syms else (
                    ", ".join(syms) if len(syms) <= 6 else f"{len(syms)} symbols")
                short = os.path.basename(name) if name.startswith("/") else name
                w(f"| {short} | {kib} | {mini.get(name, 0)} | {shown} |")
            w("")

    if "idle" in res:
        iw = res["idle"]
        w(f"## Idle wake-ups, 8 idle workers, {iw['secs']:g} s windows\n")
        w("Context switches (voluntary + involuntary, every thread) of the "
          "supervising process from `/proc/PID/task/*/status`, before and after "
          "each window; a switch is a wake-up. Same processes as the memory table "
          "(clusterd `--cgroups=no`; with cgroups and memory watches: the cgroups part).\n")
        w("| supervisor | wake-ups per window | median | per second |")
        w("|---|---|---:|---:|")
        for tag, label in (("clusterd-c", "clusterd (C workers)"), ("clusterd-node", "clusterd (node workers)"),
                           ("minimal-c", "minimal launcher"), ("nodecluster", "node:cluster primary"),
                           ("pm2", "PM2 daemon")):
            xs = iw["wakeups"][tag]
            w(f"| {label} | {', '.join(map(str, xs))} | {median(xs):g} | {median(xs) / iw['secs']:.1f} |")
        others = [t for t in iw["wakeups"] if "#" in t]
        if others:
            tot = [sum(iw["wakeups"][t][i] for t in others) for i in range(len(iw["wakeups"][others[0]]))]
            w(f"| {len(others)} more clusterd (C workers), all together | {', '.join(map(str, tot))} | {median(tot):g} | {median(tot) / iw['secs']:.1f} |")
        w("")
        cz = max(x for t, xs in iw["wakeups"].items() if t.startswith("clusterd") for x in xs)
        summary.append((f"idle wake-ups of clusterd in {iw['secs']:g} s", f"{cz} (node:cluster {median(iw['wakeups']['nodecluster']):g}, PM2 {median(iw['wakeups']['pm2']):g})", "0", cz == 0))
        if iw.get("strace"):
            w("strace of clusterd during an idle window (the miss):\n\n```\n" + iw["strace"] + "\n```\n")

    if "respawn" in res:
        rs = res["respawn"]["rows"]
        w("## Respawn after kill -9\n")
        w("bench/respawn.c, one worker per supervisor (so that only the replacement "
          "can answer): take CLOCK_MONOTONIC, `kill(worker, SIGKILL)`, then send a "
          "request at once (retried when refused: node:cluster and PM2 close the "
          "port while no worker is left; clusterd keeps it, the request waits in "
          "the backlog; another request goes out every max(1 ms, 2% of the time "
          "elapsed), the earlier ones left open, and \"requests lost\" counts those "
          "taken but still unanswered when a later one was answered). Exit, fork and exec times are the kernel's own stamps of "
          "those events (proc connector, CLOCK_MONOTONIC), not polled "
          "(/proc/PID/task/*/children does not exist on this kernel); \"exit\" is "
          "the last thread of the old worker gone, just after its parent is "
          "signalled, so `exit→fork` "
          "is the supervisor's reaction alone; kill→exit is the kernel delivering "
          "the signal. So that every kill is a lone crash and not a crash loop, "
          "clusterd runs with `stable_after = 50ms` and PM2 with "
          "`--max-restarts 1000000` (PM2 never delays a restart, but stops an app "
          "after 16 deaths younger than 1 s); the next kill comes 60 ms after the answer. "
          f"Kills in {P['kill_blocks']} blocks, alternating contenders. Milliseconds.\n")
        w("| contender | kills | kill→exit p50 | kill→fork p50 | p99 | exit→fork p50 | p99 | kill→exec p50 | kill→accepting p50 | p99 | max | requests lost |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        names = {"clusterd-c": "clusterd, C hello", "clusterd-seed": "clusterd, seed app (listen({fd: 3}))",
                 "pm2": "PM2 cluster mode, seed app"}
        for tag, xs in rs.items():
            g = lambda k: [x[k] for x in xs]
            e2f = [x["fork"] - x["exit"] for x in xs]
            w(f"| {names[tag]} | {len(xs)} | {pct(g('exit'), .5):.2f} | {pct(g('fork'), .5):.2f} | "
              f"{pct(g('fork'), .99):.2f} | {pct(e2f, .5):.2f} | {pct(e2f, .99):.2f} | "
              f"{pct(g('exec'), .5):.2f} | {pct(g('accept'), .5):.2f} | {pct(g('accept'), .99):.2f} | "
              f"{max(g('accept')):.2f} | {sum(g('lost'))} |")
        w("")
        c = rs["clusterd-c"]
        f50 = pct([x["fork"] for x in c], .5)
        a50 = pct([x["accept"] for x in c], .5)
        pm = rs.get("pm2") or []
        cn = rs.get("clusterd-seed") or []
        if pm and cn:
            ra = pct([x["accept"] for x in pm], .5) / pct([x["accept"] for x in cn], .5)
            w(f"PM2 / clusterd, the seed app under both, kill→accepting p50: **{ra:.1f}×**.\n")
        summary.append(("respawn, kill→forked p50 (C hello)", f"{f50:.2f} ms (p99 {pct([x['fork'] for x in c], .99):.2f})", "≤ 2 ms", f50 <= 2))
        summary.append(("respawn, kill→accepting p50 (C hello)", f"{a50:.2f} ms (p99 {pct([x['accept'] for x in c], .99):.2f}); PM2 {pct([x['accept'] for x in pm], .5):.1f} ms" if pm else f"{a50:.2f} ms", "≤ 10 ms", a50 <= 10))
        w("![respawn](respawn.png)\n")

    if "scale" in res:
        sc = res["scale"]
        w("## Scale\n")
        w("N copies of the C hello on one shared socket, clusterd and the minimal "
          "launcher started one after the other under bench/spawnwatch.c, which "
          "follows the kernel's fork and exec events (proc connector): \"up\" is "
          "from starting the launcher to the exec of its Nth worker; \"stop\" from "
          "SIGTERM to the launcher exiting with every worker reaped; \"CPU\" the "
          "launcher's own user + system time until all were up. clusterd's log line "
          "\"N workers ready\" comes after the last exec (ready = exec); `status "
          "--json` then says workers_ready = N. clusterd runs with `--cgroups=no`, "
          "as the minimal launcher does without (its default as root is a cgroup per "
          "worker: that cost is in the cgroups part). Status: wall time of one "
          "`clusterctl status` (a whole clusterctl process), median of 5. "
          f"Medians of {P['scale_rounds']} rounds, min–max beside. Seconds unless named.\n")
        w("| workers | clusterd up | min–max | minimal up | ratio | clusterd \"ready\" logged | clusterd CPU ms | minimal CPU ms | clusterd stop | minimal stop | clusterd RSS KiB | minimal RSS KiB | status ms | status --json ms | workers_ready |")
        w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n, xs in sc.items():
            g = lambda k: [x[k] for x in xs]
            ru = ratios(g("clusterd_up"), g("minimal_up"))
            w(f"| {n} | {median(g('clusterd_up')):.3f} | {spread(g('clusterd_up'), '{:.3f}')} | "
              f"{median(g('minimal_up')):.3f} | {median(ru):.2f} | {median(g('ready_log')):.3f} | "
              f"{median(g('clusterd_cpu_up')) * 1e3:.0f} | {median(g('minimal_cpu_up')) * 1e3:.0f} | "
              f"{median(g('clusterd_stop')):.3f} | {median(g('minimal_stop')):.3f} | "
              f"{median(g('clusterd_rss')):.0f} | {median(g('minimal_rss')):.0f} | "
              f"{median(g('status')) * 1e3:.1f} | {median(g('status_json')) * 1e3:.1f} | {min(g('ready_json'))} |")
        w("")
        ns = sorted(sc)
        med = lambda n, k: median([x[k] for x in sc[n]])
        if len(ns) >= 2:
            a, b = ns[-2], ns[-1]
            gr = med(b, "ready_log") / med(a, "ready_log")
            w(f"Growth from {a} to {b} workers ({b / a:g}× the workers): clusterd ready "
              f"×{gr:.1f} (minimal up ×{med(b, 'minimal_up') / med(a, 'minimal_up'):.1f}), "
              f"stop ×{med(b, 'clusterd_stop') / med(a, 'clusterd_stop'):.1f}, "
              f"RSS ×{med(b, 'clusterd_rss') / med(a, 'clusterd_rss'):.2f}, "
              f"status ×{med(b, 'status') / med(a, 'status'):.1f}.\n")
            summary.append((f"scale: clusterd ready time {b} / {a} workers", f"×{gr:.1f}", f"×{b / a:g} (linear) ± 10%", gr <= b / a * 1.1))
        if 1000 in sc:
            t = med(1000, "ready_log")
            summary.append(("scale: 1000 workers up (clusterd, ready logged)", f"{t:.3f} s (minimal launcher: {med(1000, 'minimal_up'):.3f} s)", "≤ 1 s", t <= 1))
            ru = median(ratios([x["clusterd_up"] for x in sc[1000]], [x["minimal_up"] for x in sc[1000]]))
            summary.append(("scale: 1000 workers up, clusterd / minimal launcher (issue 11)", f"{ru:.2f}", "≤ 1.1", ru <= 1.1))
        if 1000 in sc and 3000 in sc:
            g3 = med(3000, "clusterd_up") / med(1000, "clusterd_up")
            summary.append(("scale: clusterd up, 3000 / 1000 workers (issue 11)", f"×{g3:.2f} (minimal launcher ×{med(3000, 'minimal_up') / med(1000, 'minimal_up'):.2f})", "≤ ×3.3", g3 <= 3.3))
        why = res.get("scale_why")
        if why and why.get("calls"):
            sizes = sorted(why["calls"], key=int)
            big = why["calls"][sizes[-1]]
            w(f"Where clusterd's own time goes while it starts its workers: `strace -c` of "
              f"clusterd alone (not its workers), system time per call, at "
              f"{' and '.join(sizes)} workers; the workers' notify sockets were in "
              f"{why.get('notify_dir', '?')} ({why.get('notify_fs', why.get('run_fs', '?'))}).\n")
            w("| system call | " + " | ".join(f"calls ({z}) | µs per call ({z}) | s ({z})" for z in sizes) + " |")
            w("|---|" + "---:|---:|---:|" * len(sizes))
            for name in sorted(big, key=lambda k: -big[k][2])[:7]:
                cells = []
                for z in sizes:
                    c = why["calls"][z].get(name)
                    cells.append(f"{c[0]} | {c[1]} | {c[2]:.3f}" if c else "- | - | -")
                w(f"| {name} | " + " | ".join(cells) + " |")
            w("")
        w("![scale](scale.png)\n")

    if "spawnlat" in res:
        sl = res["spawnlat"]
        n = sl["n"]
        w("## Spawn latency\n")
        w(f"clusterd with no worker, then `scale {n}` (C hello workers); meanwhile "
          "`status` asked over and over, each on a new control connection (wall time "
          "of connect, request and whole answer, from Python), until all are ready. "
          "Then `scale 0`, `scale N` again, and SIGTERM once a tenth of them have "
          "started: the time to the \"stopping\" log line (the log is read as it is "
          "written). Milliseconds.\n")
        w("| round | status answers | scale-up s | status p50 | p99 | max | SIGTERM | started before the stop |")
        w("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for i, x in enumerate(sl["rows"]):
            st = x["status"]
            w(f"| {i + 1} | {len(st)} | {x['scale_up']:.2f} | {pct(st, .5) * 1e3:.1f} | "
              f"{pct(st, .99) * 1e3:.1f} | {max(st) * 1e3:.1f} | {x['sigterm'] * 1e3:.1f} | "
              f"{x['started_after']} of {n} |")
        w("")
        worst = max(max(max(x["status"]), x["sigterm"]) for x in sl["rows"])
        summary.append((f"spawn latency: longest status or SIGTERM answer while {n} workers start",
                        f"{worst * 1e3:.1f} ms", "≤ 50 ms", worst <= 0.05))

    if "balance" in res:
        b = res["balance"]
        w("## Balance, 8 workers\n")
        w(f"bench/loadgen.c, 16 connections at a time, one request each, "
          f"{P['balance_secs']:g} s per round, {P['balance_rounds']} rounds; the "
          "answer names the worker. Busiest/idlest = most answers of one worker / "
          "fewest.\n")
        w("| contender | busiest/idlest median | min–max | answers per worker (last round) |")
        w("|---|---:|---:|---|")
        for tag, xs in b["ratio"].items():
            w(f"| {LABEL.get(tag, tag)} (shared socket) | {median(xs):.2f} | {spread(xs)} | "
              f"{' '.join(map(str, b['counts'][tag][-1]))} |" if "reuseport" not in tag else
              f"| {LABEL.get(tag, tag)} | {median(xs):.2f} | {spread(xs)} | {' '.join(map(str, b['counts'][tag][-1]))} |")
        if not b["reuseport"]:
            w(f"| clusterd --reuseport | pending | | `{b['why']}` |")
        w("")
        if b["reuseport"]:
            x = median(b["ratio"]["clusterd-c-reuseport"])
            summary.append(("balance: --reuseport busiest/idlest", f"{x:.2f}", "≤ 1.2", x <= 1.2))
        else:
            summary.append(("balance: --reuseport busiest/idlest", "pending (not supported yet)", "≤ 1.2", None))
        summary.append(("balance: shared socket busiest/idlest (C / node)", f"{median(b['ratio']['clusterd-c']):.2f} / {median(b['ratio']['clusterd-node']):.2f}", "-", None))

    if "rolling" in res:
        ro = res["rolling"]
        w("## Rolling restart under load\n")
        w("bench/loadgen.c, 8 connections at a time, one request each, every "
          "failure counted (refused, reset, bad or missing answer, 5 s timeout); "
          "after 1 s of load `clusterctl restart` (clusterd, default surge mode) "
          "or `pm2 reload NAME` (PM2), and 2 s of load after it returns. "
          "\"during\" is the requests in flight at any moment from the command to the "
          "end of the load (a new worker may still be starting when the command "
          "returns); "
          "p99 before is the second before the command. 2 workers each. "
          "clusterd's default readiness is `ready = exec`: a node worker counts as "
          "ready before it listens, so the old one stops early and requests wait in "
          "the backlog (never lost) until the new one listens; `--ready=1s` waits "
          "a second instead. Milliseconds.\n")
        w("| contender | restart s | requests during | failed (all run) | failed during | p99 before | p99 during | p99 ratio | max during | failure kinds |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        names = {"clusterd-c": "clusterd, C hello", "clusterd-node": "clusterd, node hello.js",
                 "clusterd-node-ready": "clusterd --ready=1s, node hello.js",
                 "clusterd-seed": "clusterd, seed app (no SIGTERM handler)",
                 "pm2": "PM2 reload, seed app"}
        for tag, xs in ro.items():
            for x in xs:
                k = ", ".join(f"{a} {v}" for a, v in x["kinds"].items() if v) or "-"
                w(f"| {names[tag]} | {x['secs']:.2f} | {x['n_during']} | {x['failed']} | "
                  f"{x['failed_during']} | {x['p99_before'] * 1e3:.1f} | {x['p99_during'] * 1e3:.1f} | "
                  f"{x['p99_during'] / x['p99_before']:.1f} | {x['max_during'] * 1e3:.1f} | {k} |")
        w("")
        fc = sum(x["failed"] for t in ro if t not in ("pm2", "clusterd-seed") for x in ro[t])
        fp = sum(x["failed"] for x in ro.get("pm2", []))
        fs = sum(x["failed"] for x in ro.get("clusterd-seed", []))
        summary.append(("rolling restart: failed requests, clusterd (apps that stop gracefully), all rounds",
                        f"{fc}; the seed app, which dies at SIGTERM: clusterd {fs}, PM2 reload {fp}", "0", fc == 0))
        w("![rolling restart](rolling.png)\n")

    if "relay" in res:
        report_relay(res, w, summary)

    if "cgroups" in res:
        report_cgroups(res, w, summary)

    if "upgrade" in res:
        report_upgrade(res, w, summary)

    if "autoscale" in res:
        AUTOSCALE.report(res, w, summary)

    head = ["## Summary: targets\n",
            "| figure | measured | target | |", "|---|---|---|---|"]
    for name, val, target, ok in summary:
        head.append(f"| {name} | {val} | {target} | {'' if ok is None else yes(ok)} |")
    if any(ok == "noise" for *_, ok in summary):
        head.append("\n\"within noise\": below the target by less than the noise band of "
                    "this run: the larger of how far the median ratio of two identical minimal "
                    "launchers running the same app (A/A) is from 1 and twice the standard error of a median "
                    "of their per-round ratios. This run cannot tell such a value from the "
                    "target.")
    head.append("")
    why = misses(res, summary)
    if why:
        head += ["## Misses and what the measurements say\n"] + why + [""]
    i = 5
    L[i:i] = head
    res["summary"] = summary
    return "\n".join(L) + "\n"


def misses(res, summary):
    """A paragraph per missed target: the cause, from this run's own data."""
    out = []
    missed = {name for name, _, _, ok in summary if ok is False or ok == "noise"}
    mem = res.get("memory")
    if mem and any(n.startswith("supervisor RSS") for n in missed):
        bf = dict(mem["by_file"]["clusterd-c"])
        libs = mem.get("libs", {})
        anon = mem["rss"]["clusterd-c"]["anon"]
        extra = [(os.path.basename(k), v, libs.get(k, [])) for k, v in bf.items()
                 if k.startswith("/") and ".so" in k and k not in dict(mem["by_file"]["minimal-c"])]
        starts = [v["rss"] for t, v in mem["rss"].items() if t.startswith("clusterd") and "norand" not in t]
        norand = [v["rss"] for t, v in mem["rss"].items() if "norand" in t]
        txt = (f"- **Supervisor RSS.** clusterd's own memory is small: RssAnon {anon} KiB "
               "(heap, stack, data). VmRSS also counts every resident page of the "
               "libraries it maps, shared with any other process; the minimal launcher "
               "maps libc and ld.so only. " +
               ("Libraries clusterd maps beyond those: " +
                "; ".join(f"{n} {v} KiB for {', '.join(sy) if len(sy) <= 4 else str(len(sy)) + ' symbols'}"
                          for n, v, sy in extra) + "; " if extra else "clusterd maps no other library, ") +
               f"and it touches more of libc ({bf.get(next((k for k in bf if 'libc.so' in k), ''), 0)} KiB "
               f"against {dict(mem['by_file']['minimal-c']).get(next((k for k in bf if 'libc.so' in k), ''), 0)}).")
        if norand:
            txt += (f" Across {len(starts)} starts VmRSS ran {spread(starts, '{:.0f}')} KiB; with "
                    f"address-space randomisation off it was {spread(norand, '{:.0f}')} KiB every "
                    "time: how much of libc is resident depends on where ASLR maps it "
                    "(fault-around maps a 64 KiB window, aligned in the address space, around "
                    "each fault), so the margin under 2 MiB has to cover that spread.")
        wi = mem.get("whatif")
        if wi:
            txt += (" Relinking the same object files (src/clusterd-*.o) and measuring "
                    "the same way, 8 C workers: " +
                    "; ".join(f"{k} **{v} KiB**" for k, v in wi.items()) + ".")
        out.append(txt)
    sc = res.get("scale")
    if sc and any(n.startswith("scale: 1000") for n in missed):
        big = max(sc)
        med = lambda k: median([x[k] for x in sc[big]])
        txt = (f"- **1000 workers up.** clusterd logged \"{big} workers ready\" after "
               f"{med('ready_log'):.2f} s; the minimal launcher had {big} workers exec'd "
               f"after {med('minimal_up'):.2f} s in the same rounds, so on this machine at "
               "this load the kernel's fork and exec of the workers alone take about "
               f"that long. clusterd's own CPU time until all were up: {med('clusterd_cpu_up') * 1e3:.0f} ms "
               f"({med('clusterd_cpu_up') / big * 1e6:.0f} µs per worker) against "
               f"{med('minimal_cpu_up') * 1e3:.0f} ms for the minimal launcher.")
        w = res.get("scale_why")
        if w and w.get("calls"):
            sizes = sorted(w["calls"], key=int)
            cb = w["calls"][sizes[-1]]
            bind, clone = cb.get("bind"), cb.get("clone")
            small = w["calls"][sizes[0]]
            if bind:
                txt += (f" Under strace -c the costliest call is bind(): {bind[0]} calls at "
                        f"{bind[1]} µs each ({bind[2]:.2f} s of system time) — one NOTIFY_SOCKET "
                        f"per worker, a socket file in {w.get('notify_dir', '?')}, on "
                        f"{w.get('notify_fs', '?')}.")
            if clone and small.get("clone"):
                txt += (f" clone() costs {clone[1]} µs a call at {sizes[-1]} workers against "
                        f"{small['clone'][1]} µs at {sizes[0]}: each fork copies clusterd's "
                        "descriptor table, which holds one socket per worker.")
            bc = w.get("binds")
            if bc:
                txt += (" socket()+bind() of 1000 datagram sockets in one directory, measured "
                        "after the rounds: " +
                        "; ".join(f"{k.rsplit(' ', 1)[0]} {v:.0f} µs each"
                                  for k, v in bc.items() if k.endswith(" 1000")) +
                        f" (100 sockets: " +
                        "; ".join(f"{k.rsplit(' ', 1)[0]} {v:.0f} µs"
                                  for k, v in bc.items() if k.endswith(" 100")) +
                        "). On ext4 that cost also moves with the machine's other disk "
                        "work.")
        out.append(txt)
    if sc and any(n.startswith("scale: clusterd ready time") for n in missed):
        ns = sorted(sc)
        a, b = ns[-2], ns[-1]
        med = lambda n, k: median([x[k] for x in sc[n]])
        ca, cb = med(a, 'clusterd_cpu_up'), med(b, 'clusterd_cpu_up')
        # /proc counts CPU time in clock ticks: below one, no ratio means anything.
        cpu = (f"×{cb / ca:.0f} ({ca * 1e3:.0f} → {cb * 1e3:.0f} ms)" if ca >= 0.02 else
               f"{cb * 1e3:.0f} ms at {b} (at {a}, less than the 10 ms clock tick of /proc)")
        txt = (f"- **Growth with N.** From {a} to {b} workers clusterd's time to ready grew "
               f"×{med(b, 'ready_log') / med(a, 'ready_log'):.1f} and its own CPU time {cpu}; "
               f"the minimal launcher's time grew ×{med(b, 'minimal_up') / med(a, 'minimal_up'):.1f}.")
        w = res.get("scale_why") or {}
        calls = w.get("calls") or {}
        if len(calls) == 2:
            z0, z1 = sorted(calls, key=int)
            worse = [f"{k} {calls[z0][k][1]} → {calls[z1][k][1]} µs"
                     for k in ("bind", "clone", "close", "wait4")
                     if k in calls[z0] and k in calls[z1] and calls[z1][k][1] > calls[z0][k][1] * 1.3]
            if worse:
                txt += (f" Per call, from {z0} to {z1} workers (strace, system time): " +
                        ", ".join(worse) + ": the kernel work per worker grows with the "
                        "number of workers (a descriptor table to copy at each fork that "
                        "holds one socket per worker, a fuller directory of socket files).")
        out.append(txt)
    tp = res.get("throughput")
    if tp:
        for name in sorted(missed):
            if not name.startswith("throughput"):
                continue
            mode = "keepalive" if "keep" in name else "close"
            sp = tp.get("split", {}).get(mode, {})
            aa = ratios(tp["rps"][mode]["minimal-c2"], tp["rps"][mode]["minimal-c"])
            if ("node" in name or "seed" in name) and "minimal-node2" in tp["rps"][mode]:
                aa = ratios(tp["rps"][mode]["minimal-node2"], tp["rps"][mode]["minimal-node"])
            wk = tp.get("wake", {}).get(mode, {})
            cpu = tp["sup_cpu"][mode]
            txt = (f"- **{name}.** clusterd's own CPU during the load: "
                   f"{median(cpu['clusterd-c']):.1f}% (C), {median(cpu['clusterd-node']):.1f}% "
                   f"(node), with {median(wk.get('clusterd-c', [])):g} and "
                   f"{median(wk.get('clusterd-node', [])):g} wake-ups per slice: it is not in "
                   "the request path, the workers accept from the same kind of socket as "
                   "under the minimal launcher. Two identical minimal launchers (same app) measured "
                   f"{median(aa):.3f} ({spread(aa, '{:.3f}')}) against each other in the "
                   "same rounds: that is the noise of this run.")
            if "node:cluster" in name:
                a, b = median(sp.get("clusterd-seed", [])), median(sp.get("nodecluster", []))
                txt += (f" The busier of the two workers did {a:.0f}% of the work under "
                        f"clusterd (shared socket) against {b:.0f}% under node:cluster, whose "
                        "primary hands each new connection to the workers in turn")
                if a - b > 5:
                    txt += (": with a shared socket the keep-alive connections wrk opens "
                            "at once land unevenly (the seed README's own warning) and stay "
                            "there, so one worker's core idles.")
                else:
                    txt += ": the work was spread as evenly, so placement is not the cause."
                if sp.get("clusterd-seed-reuseport"):
                    txt += (f" With --reuseport the busier worker did "
                            f"{median(sp['clusterd-seed-reuseport']):.0f}%.")
            out.append(txt)
    return out


def rss_whatif():
    """clusterd's RSS if it were linked static: relink its object files, run
    each variant with 8 workers."""
    objs = sorted(f for f in os.listdir(os.path.join(BUILD, "src"))
                  if f.startswith("clusterd-") and f.endswith(".o"))
    cc = os.environ.get("CC", "cc")
    if not objs or not shutil.which(cc):
        return None
    objs = [os.path.join(BUILD, "src", f) for f in objs]
    variants = {
        "as built": None,
        "linked -static": ["-static", "-linih", "-lev", "-lm"],
    }
    out = {}
    for name, flags in variants.items():
        exe = CLUSTERD
        if flags is not None:
            exe = os.path.join(OUT, "clusterd-" + re.sub(r"\W+", "-", name))
            r = run([cc, "-o", exe] + objs + flags)
            if r.returncode != 0:
                continue
        p = subprocess.Popen([exe, "-n", "8", "-l", f"127.0.0.1:{free_port()}", "-s",
                              os.path.join(OUT, "ctl-whatif.sock"), "--", HELLO],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        time.sleep(1.0)
        out[name] = rss_kib(p.pid)["rss"]
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=20)
    return out


def plots(res):
    if not shutil.which("gnuplot"):
        log("gnuplot missing: no plots")
        return
    term = "set terminal pngcairo size 900,520 font 'sans,10'"
    scripts = []
    if "throughput" in res:
        dat = os.path.join(OUT, "throughput.dat")
        rps = res["throughput"]["rps"]
        with open(dat, "w") as f:
            f.write("# contender: ratio to the minimal launcher running the same app, "
                    "close median min max, keep-alive median min max\n")
            for tag, kind, app, label, fam in res["throughput"].get("contenders", CONTENDERS):
                base = reference(tag)
                if tag == base:
                    continue
                row = [f'"{tag}"']
                for mode in ("close", "keepalive"):
                    rr = ratios(rps[mode][tag], rps[mode][base])
                    row += [str(median(rr)), str(min(rr)), str(max(rr))]
                f.write(" ".join(row) + "\n")
        scripts.append(("throughput.png", f"""{term}
set title "Throughput, ratio to the reference (median of per-round ratios, bars: min-max; dashed: 0.97)\\nreference: the minimal launcher running the same app; for clusterd-seed and pm2, node:cluster" font ',10'
set ylabel 'ratio to reference'
set style data histograms
set style histogram errorbars gap 2 lw 1
set style fill solid 0.7 border -1
set yrange [0:*]
set xtics rotate by -20
set key top right
set grid ytics
plot '{dat}' using 2:3:4:xtic(1) title 'Connection: close', '' using 5:6:7 title 'keep-alive', \\
     0.97 with lines dt 2 lc rgb 'black' notitle, 1 with lines lc rgb 'gray' notitle
"""))
    if "respawn" in res:
        files = []
        for tag, xs in res["respawn"]["rows"].items():
            for key in ("fork", "accept"):
                p = os.path.join(OUT, f"cdf-{tag}-{key}.dat")
                v = sorted(x[key] for x in xs)
                with open(p, "w") as f:
                    for i, y in enumerate(v):
                        f.write(f"{y} {(i + 1) / len(v)}\n")
                files.append((p, f"{tag} kill→{'forked' if key == 'fork' else 'accepting'}"))
        pl = ", ".join(f"'{p}' using 1:2 with steps lw 2 lc {i // 2 + 1} dt {1 if i % 2 else 2} title '{t}'"
                       for i, (p, t) in enumerate(files))
        scripts.append(("respawn.png", f"""{term}
set title 'Respawn after kill -9: cumulative distribution (dashed: forked, solid: accepting)'
set xlabel 'milliseconds after kill (log)'
set ylabel 'fraction of kills'
set logscale x
set grid
set key bottom right
set arrow 1 from first 2, graph 0 to first 2, graph 1 nohead dt 2 lw 1 lc rgb 'black'
set arrow 2 from first 10, graph 0 to first 10, graph 1 nohead dt 2 lw 1 lc rgb 'black'
set label 1 'target forked 2 ms' at 2, graph 0.97 left offset 0.5,0 font ',8'
set label 2 'target accepting 10 ms' at 10, graph 0.92 left offset 0.5,0 font ',8' 
plot {pl}
"""))
    if "scale" in res:
        dat = os.path.join(OUT, "scale.dat")
        with open(dat, "w") as f:
            for n, xs in res["scale"].items():
                g = lambda k: median([x[k] for x in xs])
                f.write(f"{n} {g('ready_log')} {g('minimal_up')} {g('clusterd_stop')} "
                        f"{g('minimal_stop')} {g('status')}\n")
        scripts.append(("scale.png", f"""{term}
set title 'N C hello workers: clusterd beside the minimal launcher'
set xlabel 'workers (log)'
set ylabel 'seconds (log)'
set logscale xy
set grid
set key top left
plot '{dat}' using 1:2 with linespoints lw 2 title 'clusterd: start until all ready', \\
     '' using 1:3 with linespoints lw 2 dt 3 title 'minimal: start until all exec', \\
     '' using 1:4 with linespoints lw 2 title 'clusterd: stop until all reaped', \\
     '' using 1:5 with linespoints lw 2 dt 3 title 'minimal: stop until all reaped', \\
     '' using 1:6 with linespoints lw 2 title 'clusterctl status', \\
     '' using 1:($1*0.001) with lines dt 2 lc rgb 'gray' title 'target: 1 ms per worker'
"""))
    if "rolling" in res:
        panels = []
        for tag, xs in res["rolling"].items():
            x = xs[0]
            p = os.path.join(OUT, f"rolling-{tag}.dat")
            pf = os.path.join(OUT, f"rolling-{tag}-fail.dat")
            with open(p, "w") as f, open(pf, "w") as g:
                for line in read(x["records"]).splitlines():
                    st, l, code = line.split()
                    t = int(st) / 1e6 - x["t0"]
                    (f if code == "200" else g).write(f"{t:.4f} {max(int(l), 10) / 1e3:.3f}\n")
            plot = f"'{p}' using 1:2 with points pt 7 ps 0.15 lc rgb '#3060c0' notitle"
            if os.path.getsize(pf):
                plot += f", '{pf}' using 1:2 with points pt 2 ps 1.2 lw 2 lc rgb 'red' title 'failed (at its timeout)'"
            panels.append(f"""set title '{tag}: restart command from 0 to {x["t1"] - x["t0"]:.2f} s'
set arrow 1 from 0, graph 0 to 0, graph 1 nohead dt 2
set arrow 2 from {x["t1"] - x["t0"]:.3f}, graph 0 to {x["t1"] - x["t0"]:.3f}, graph 1 nohead dt 2
plot {plot}
""")
        n = len(panels)
        scripts.append(("rolling.png", f"""set terminal pngcairo size 900,{230 * n} font 'sans,9'
set multiplot layout {n},1 title 'Rolling restart under connection-per-request load: latency of each request (first round)'
set logscale y
set yrange [0.01:10000]
set xrange [-1:*]
set ylabel 'ms (log)'
set xlabel 'seconds since the restart command'
set grid
set key top right
""" + "".join(panels) + "unset multiplot\n"))
    for png, script in scripts:
        path = os.path.join(OUT, png + ".gp")
        with open(path, "w") as f:
            f.write(f"set output '{os.path.join(BENCH, png)}'\n" + script)
        r = run(["gnuplot", path])
        if r.returncode != 0:
            log(f"gnuplot {png}: {r.stdout[-300:]}")


# ------------------------------------------------------------- log relay

RELAY = os.path.join(TOOLS, "relay")
RELAY_KINDS = [("pipe", "plain pipe: flooder → reader"),
               ("cat", "one more hop: flooder → cat → reader"),
               ("clusterd", "clusterd log_prefix: flooder, quiet worker → clusterd → reader")]


def proc_io(pid):
    """Bytes and calls of read() and write() of pid (/proc/PID/io)."""
    d = {}
    for line in read(f"/proc/{pid}/io").splitlines():
        k, _, v = line.partition(":")
        d[k] = int(v)
    return d


def relay_slice(kind, nbytes, rnd):
    """One flood of nbytes through one contender; the reader's figures and
    the CPU time of the process in the middle (cat, clusterd) meanwhile."""
    st = os.path.join(OUT, "relay.state")
    resf = os.path.join(OUT, f"relay-{kind}-{rnd}.result")
    with open(st, "wb") as f:
        f.write(b"\0" * 4096)
    if os.path.exists(resf):
        os.unlink(resf)
    r, w = os.pipe()
    procs = []
    mid = None
    try:
        procs.append(subprocess.Popen([RELAY, "sink", st, resf, str(nbytes),
                                       "1" if kind == "clusterd" else "0"], stdin=r))
        os.close(r)
        if kind == "pipe":
            procs.append(subprocess.Popen([RELAY, "flood", st, str(nbytes)], stdout=w))
        elif kind == "cat":
            r2, w2 = os.pipe()
            mid = subprocess.Popen(["cat"], stdin=r2, stdout=w)
            procs.append(subprocess.Popen([RELAY, "flood", st, str(nbytes)], stdout=w2))
            os.close(r2)
            os.close(w2)
        else:
            conf = os.path.join(OUT, "relay.conf")
            with open(conf, "w") as f:
                f.write("[clusterd]\nlog_prefix = yes\n")
            logf = os.path.join(OUT, f"relay-clusterd-{rnd}.log")
            with open(logf, "w") as lf:
                mid = subprocess.Popen([CLUSTERD, "-c", conf, "-n", "2", "-l", "none",
                                        "-s", os.path.join(OUT, "ctl-relay.sock"), "--",
                                        RELAY, "worker", st, str(nbytes)],
                                       stdout=w, stderr=lf)
            end = time.monotonic() + 30
            while "2 workers ready" not in read(logf):
                if time.monotonic() > end or mid.poll() is not None:
                    raise RuntimeError(f"relay: clusterd did not start: {read(logf)[-300:]}")
                time.sleep(0.01)
        os.close(w)
        w = None
        time.sleep(0.2)     # every process at its first read or wait_go()
        cpu0 = task_ns(mid.pid) if mid else 0
        # The ends: the reader, and the writers (clusterd's workers).
        writers = [p.pid for p in procs[1:]] + (children(mid.pid) if kind == "clusterd" else [])
        reader0, writers0 = task_ns(procs[0].pid), sum(task_ns(p) for p in writers)
        io0, cs0 = proc_io(mid.pid) if mid else {}, ctxt(mid.pid) if mid else 0
        subprocess.run([RELAY, "go", st], check=True)
        end = time.monotonic() + 300
        while not os.path.exists(resf) or not read(resf).endswith("\n") or \
                "flood_t_end" not in read(resf):
            if time.monotonic() > end:
                raise RuntimeError(f"relay: {kind}: no result in 300 s")
            time.sleep(0.005)
        cpu = (task_ns(mid.pid) - cpu0) if mid else 0
        reader_cpu = task_ns(procs[0].pid) - reader0
        writers_cpu = sum(task_ns(p) for p in writers) - writers0
        io1, cs1 = proc_io(mid.pid) if mid else {}, ctxt(mid.pid) if mid else 0
        d = {k: int(v) for k, v in (l.split() for l in read(resf).splitlines())}
        d["cpu_ns"] = cpu
        # What the middle moved, and in how many calls and context switches.
        for k in ("rchar", "wchar", "syscr", "syscw"):
            d[k] = io1.get(k, 0) - io0.get(k, 0)
        d["cs"] = cs1 - cs0
        d["reader_cpu_ns"] = reader_cpu
        d["writers_cpu_ns"] = writers_cpu
        d["secs"] = (d["t_done"] - d["t_begin"]) / 1e9
        d["mbps"] = d["flood_lines"] * 100 / d["secs"] / 1e6
        return d
    finally:
        if w is not None:
            os.close(w)
        if mid is not None and kind == "clusterd":
            mid.terminate()
            try:
                mid.wait(timeout=20)
            except subprocess.TimeoutExpired:
                mid.kill()
        for p in procs[1:] + ([mid] if mid is not None else []) + procs[:1]:
            if p.poll() is None:
                p.kill()
            p.wait()


def bench_relay(res):
    nbytes = P["relay_mib"] << 20
    log(f"relay: {P['relay_rounds']} rounds of {P['relay_mib']} MiB through each contender")
    load0 = read("/proc/loadavg").split()[:3]
    out = {k: [] for k, _ in RELAY_KINDS}
    order = [k for k, _ in RELAY_KINDS]
    for rnd in range(P["relay_rounds"]):
        for kind in order[rnd % 3:] + order[:rnd % 3]:
            d = relay_slice(kind, nbytes, rnd)
            out[kind].append(d)
            log(f"relay: round {rnd + 1} {kind}: {d['mbps']:.0f} MB/s, cpu "
                f"{d['cpu_ns'] / 1e6:.0f} ms, lines {d['flood_lines']}/{d['flood_want']}"
                + (f", quiet {d['quiet_lines']}, overtaken {d['overtaken_max']}" if kind == "clusterd" else ""))
    res["relay"] = dict(rounds=out, mib=P["relay_mib"],
                        loads=[" ".join(load0), " ".join(read("/proc/loadavg").split()[:3])])


def report_relay(res, w, summary):
    rl = res["relay"]
    rr = rl["rounds"]
    w("## Log relay (log_prefix)\n")
    w(f"`bench/relay.c`: a flooder writes {rl['mib']} MiB of 100-byte numbered lines, 16 KiB "
      "per write(), into a reader that checks every line (number, length, order) and counts "
      "them; each round (order rotating) the same flood goes through a plain pipe, through "
      "`cat` (one more hop: the least a relay can cost) and through clusterd with "
      "`log_prefix = yes`, where a second worker writes a short line every 10 ms. Throughput: "
      "flood bytes from its first write() to the reader's receipt of the last line. CPU: the "
      "middle process's own time (schedstat) over the flood. \"Overtaken\": how much flood "
      "output whose write() began after a quiet line was written reached the reader before "
      "that line (exact, through counters the writers share); one relay read is what the "
      "flooder's pipe holds: 64 KiB, 256 KiB once clusterd has found it full and enlarged it. "
      "cat and clusterd get the same flood through the same kind of pipe (64 KiB, from "
      "pipe(2); clusterd enlarges its worker's, cat reads its stdin as it is) and write into "
      "the same kind of pipe; clusterd writes more bytes, the "
      "prefixes (\"bytes out / in\"). Reads, writes (/proc/PID/io syscr, syscw) and context "
      "switches are the middle process's, medians per round; \"ends CPU\" is the flooder's "
      "and the reader's: the two cores are shared by all three, so what the middle spends "
      "is taken from them. "
      f"Load average of the machine at the start / end of this part: {rl['loads'][0]} / "
      f"{rl['loads'][1]}.\n")
    w("| contender | MB/s median | min–max | ratio to plain pipe, median | min–max | "
      "CPU ms median | bytes out / in | reads | writes | context switches | ends CPU ms | lines lost |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    pipe = [d["mbps"] for d in rr["pipe"]]
    for kind, label in RELAY_KINDS:
        m = [d["mbps"] for d in rr[kind]]
        ratio = ratios(m, pipe)
        lost = sum(d["flood_want"] - d["flood_lines"] for d in rr[kind])
        cpu = [d["cpu_ns"] / 1e6 for d in rr[kind]]
        w(f"| {label} | {median(m):.0f} | {spread(m, '{:.0f}')} | "
          + ("(reference) | " if kind == "pipe" else f"{median(ratio):.3f} | {spread(ratio, '{:.3f}')} | ")
          + ("- | " if kind == "pipe" else f"{median(cpu):.0f} | ")
          + ("- | - | - | - | " if kind == "pipe" else
             f"{median([d.get('wchar', 0) / max(d.get('rchar', 0), 1) for d in rr[kind]]):.3f} | "
             f"{median([d.get('syscr', 0) for d in rr[kind]]):.0f} | "
             f"{median([d.get('syscw', 0) for d in rr[kind]]):.0f} | "
             f"{median([d.get('cs', 0) for d in rr[kind]]):.0f} | ")
          + f"{median([(d.get('reader_cpu_ns', 0) + d.get('writers_cpu_ns', 0)) / 1e6 for d in rr[kind]]):.0f} | "
          + f"{lost} |")
    cd = rr["clusterd"]
    thr = ratios([d["mbps"] for d in cd], pipe)
    catr = ratios([d["mbps"] for d in rr["cat"]], pipe)
    cpu = ratios([d["cpu_ns"] for d in cd], [d["cpu_ns"] for d in rr["cat"]])
    lost = sum(d["flood_want"] - d["flood_lines"] for d in cd)
    torn = sum(d["flood_bad"] + d["quiet_bad"] for d in rr["clusterd"])
    qlost = sum(d["quiet_last"] - d["quiet_lines"] + d["quiet_bad"] + (0 if d["quiet_end"] else 1)
                for d in cd)
    quiet = sum(d["quiet_lines"] for d in cd)
    over = max(d["overtaken_max"] for d in cd)
    lat50 = median([d["lat_p50_ns"] / 1e6 for d in cd])
    latmax = max(d["lat_max_ns"] / 1e6 for d in cd)
    w("")
    w(f"Per round: clusterd / plain pipe **{median(thr):.3f}** ({spread(thr, '{:.3f}')}), "
      f"cat / plain pipe {median(catr):.3f} ({spread(catr, '{:.3f}')}); clusterd's CPU / cat's "
      f"**{median(cpu):.2f}** ({spread(cpu)}). The quiet worker: {quiet} lines, "
      f"delay median {lat50:.2f} ms, max {latmax:.1f} ms; overtaken by at most "
      f"{over / 1024:.1f} KiB of flood output written after it.\n")
    busy = {k: median([(d["cpu_ns"] + d.get("reader_cpu_ns", 0) + d.get("writers_cpu_ns", 0))
                       / (d["secs"] * 1e9) for d in rr[k]]) for k, _ in RELAY_KINDS}
    w(f"Cores busy (the CPU time of all three processes over the wall time, median): plain pipe "
      f"{busy['pipe']:.2f}, cat {busy['cat']:.2f}, clusterd {busy['clusterd']:.2f}, of 2: every "
      "CPU-second the middle spends is taken from the flooder and the reader, and fewer than 2 "
      "busy means the three also wait on each other. clusterd's CPU beyond cat's is what an "
      "event loop and prefixes cost: an epoll_wait per turn besides the read and the write, "
      "the prefixed bytes written, and one copy of every line into the queue.\n")
    summary.append(("log relay throughput: clusterd log_prefix / plain pipe",
                    f"{median(thr):.3f} ({spread(thr, '{:.3f}')}); cat / plain pipe {median(catr):.3f}",
                    "≥ 0.9", median(thr) >= 0.9))
    summary.append(("log relay CPU: clusterd / cat, same bytes",
                    f"{median(cpu):.2f} ({spread(cpu)})", "≤ 1.2", median(cpu) <= 1.2))
    summary.append(("log relay: lines lost (flooder and quiet worker), all rounds",
                    f"{lost + qlost}" + (f" ({torn} torn or out of order)" if torn else ""),
                    "0", lost + qlost + torn == 0))
    summary.append(("log relay: flood output overtaking a quiet line, max",
                    f"{over / 1024:.1f} KiB (delay max {latmax:.1f} ms)", "one buffer (the flooder's read, 256 KiB at most)",
                    over <= 256 * 1024))


def report_cgroups(res, w, summary):
    cg = res["cgroups"]
    w("## Per-worker cgroups (issue 13)\n")
    rc = cg.get("recycle")
    if rc:
        ev = rc["events"]
        mode = rc.get("cgroups") or {}
        path = {"v2": "cgroup v2 memory (memory.events, inotify)",
                "v2+v1-memory": "cgroup v1 memory (a usage threshold eventfd on "
                                "memory.usage_in_bytes), containment in cgroup v2"
                }.get(mode.get("mode"), mode.get("mode", "?"))
        w("### memory.high crossed → replacement ready\n")
        w(f"clusterd -v, `cgroups = yes`, {rc['n']} workers of bench/leaker.c (answers "
          f"`GET /leak/N/ID` by allocating and writing N MiB if it is worker ID), "
          f"`ready = notify` (READY=1 once it is about to accept), `memory_high = "
          f"{rc['high']}M`, `memory_max = {rc['max']}M`. For each event one worker, the "
          f"slots in turn, is sent `/leak/{rc['step']}/ID` requests, one connection at a "
          "time (the others answer them without leaking) until clusterd logs "
          "\"memory.high ... crossed\"; the next event starts once the old worker has "
          "exited. Times are the moments this script read the log lines (clusterd "
          "writes them unbuffered): crossed = that line, ready = the replacement's "
          "\"worker ID (pid P) ready\" debug line, request = when the client sent the "
          "request during which the worker crossed (it includes allocating and "
          f"writing {rc['step']} MiB). Memory path that ran: **{path}** "
          f"(status --json: `{mode.get('mode', '?')}`). Milliseconds.\n")
        w("| interval | events | p50 | p95 | max |")
        w("|---|---:|---:|---:|---:|")
        for key, label in (("request", f"the crossing request: sent → answered (its {rc['step']} MiB written)"),
                           ("started", "crossed → replacement started (forked)"),
                           ("crossed", "crossed → replacement ready"),
                           ("from_request", "request sent → replacement ready"),
                           ("old_gone", "crossed → old worker exited")):
            xs = [e[key] for e in ev if e[key] == e[key]]
            w(f"| {label} | {len(xs)} | {pct(xs, .5) * 1e3:.1f} | {pct(xs, .95) * 1e3:.1f} | "
              f"{max(xs) * 1e3:.1f} |")
        w("")
        rec = sum(1 for e in ev if e["recycled"])
        failed = sum(e["failed"] for e in ev)
        leaked = [e["leaked"] for e in ev]
        w(f"Every event: the old worker's exit logged as recycled in {rec} of {len(ev)}; "
          f"leaked when it crossed {spread(leaked, '{:.0f}')} MiB; requests failed {failed}; "
          f"other memory events (OOM, crossed before ready, recycle failed) "
          f"{rc['anomalies']}.\n")
        c50 = pct([e["crossed"] for e in ev], .5)
        summary.append(("cgroups: memory.high crossed → replacement ready, p50 "
                        f"({'v1' if mode.get('mode') == 'v2+v1-memory' else mode.get('mode', '?')} memory)",
                        f"{c50 * 1e3:.1f} ms (p95 {pct([e['crossed'] for e in ev], .95) * 1e3:.1f}, "
                        f"max {max(e['crossed'] for e in ev) * 1e3:.1f}; from the request "
                        f"p50 {pct([e['from_request'] for e in ev], .5) * 1e3:.1f}), {len(ev)} events",
                        "≤ 100 ms", c50 <= 0.1))
    iw = cg.get("idle")
    if iw:
        w(f"### Idle wake-ups with cgroups, 8 idle workers, {iw['secs']:g} s windows\n")
        w("Two clusterd with 8 C hello workers each, started together and idle over the "
          "same windows: `--cgroups=yes` with `memory_high` set (every worker's memory "
          "is watched by the kernel) and `--cgroups=no`. Context switches of clusterd "
          "as in the idle part; eventfd and inotify descriptors it holds (the watches: "
          "an eventfd per worker for a v1 memory threshold, an inotify descriptor "
          "for v2 memory.events and cgroup.events, each with a watch per worker); VmRSS after start.\n")
        w("| clusterd | status mode | wake-ups per window | per second | eventfds | inotify fds | VmRSS KiB |")
        w("|---|---|---|---:|---:|---:|---:|")
        for m, label in (("yes", "--cgroups=yes, memory_high"), ("no", "--cgroups=no")):
            xs = iw["wakeups"][m]
            w(f"| {label} | {iw['modes'][m]} | {', '.join(map(str, xs))} | "
              f"{median(xs) / iw['secs']:.1f} | {iw['fds'][m]['eventfd']} | "
              f"{iw['fds'][m]['inotify']} | {iw['rss'][m]['rss']} |")
        w("")
        cz = max(iw["wakeups"]["yes"])
        summary.append((f"cgroups: idle wake-ups of clusterd --cgroups=yes, 8 workers with memory_high, "
                        f"{iw['secs']:g} s", f"{cz} (--cgroups=no: {max(iw['wakeups']['no'])})",
                        "0", cz == 0))
        if iw.get("strace"):
            w("strace of clusterd --cgroups=yes during an idle window (the miss):\n\n```\n"
              + iw["strace"] + "\n```\n")
    sp = cg.get("spawn")
    if sp:
        rows, n = sp["rows"], sp["n"]
        g = lambda k: [x[k] for x in rows]  # noqa: E731
        ru = ratios(g("yes_up"), g("no_up"))
        rr = ratios(g("yes_ready"), g("no_ready"))
        rcpu = ratios(g("yes_cpu_up"), g("no_cpu_up"))
        w(f"### Spawn cost: {n} workers, each in a cgroup of its own\n")
        w(f"As in the scale part: clusterd with {n} C hello workers under bench/spawnwatch.c, "
          "\"up\" from starting clusterd to the exec of the last worker (kernel stamps), "
          "\"CPU\" clusterd's own time until then; `--cgroups=yes` (each worker started "
          "into its own new v2 cgroup with clone3 CLONE_INTO_CGROUP, no memory limit, "
          "so no v1 join) and `--cgroups=no` one after the other, order alternating, "
          f"{len(rows)} rounds; ratios per round, yes / no.\n")
        w("| round | up yes s | up no s | ratio | ready logged yes s | no s | CPU yes ms | CPU no ms | CPU ratio | stop yes s | stop no s |")
        w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for i, x in enumerate(rows):
            w(f"| {i + 1} | {x['yes_up']:.3f} | {x['no_up']:.3f} | {x['yes_up'] / x['no_up']:.2f} | "
              f"{x['yes_ready']:.3f} | {x['no_ready']:.3f} | {x['yes_cpu_up'] * 1e3:.0f} | "
              f"{x['no_cpu_up'] * 1e3:.0f} | {x['yes_cpu_up'] / max(x['no_cpu_up'], 1e-9):.2f} | "
              f"{x['yes_stop']:.3f} | {x['no_stop']:.3f} |")
        w(f"| median | {median(g('yes_up')):.3f} | {median(g('no_up')):.3f} | {median(ru):.2f} | "
          f"{median(g('yes_ready')):.3f} | {median(g('no_ready')):.3f} | "
          f"{median(g('yes_cpu_up')) * 1e3:.0f} | {median(g('no_cpu_up')) * 1e3:.0f} | "
          f"{median(rcpu):.2f} | {median(g('yes_stop')):.3f} | {median(g('no_stop')):.3f} |")
        w("")
        extra = (median(g("yes_cpu_up")) - median(g("no_cpu_up"))) / n * 1e6
        w(f"With a cgroup per worker clusterd spends about {extra:.0f} µs more of its own "
          "CPU per worker it starts (median CPU, yes − no, over the workers): it makes "
          "the cgroup (mkdir, in which the kernel creates a node for each interface "
          "file), opens it, watches its cgroup.events, and the kernel makes a new "
          "css_set for the first process of each new cgroup at the clone; the workers' "
          "fork and exec, which clusterd waits for (CLONE_VFORK), take the rest of "
          "\"up\", so the time to have them all running moves by much less than "
          "clusterd's CPU.\n")
        summary.append((f"cgroups: {n} workers up, --cgroups=yes / --cgroups=no",
                        f"{median(ru):.2f} ({spread(ru)}); ready logged {median(rr):.2f}; "
                        f"clusterd CPU {median(rcpu):.2f} ({spread(rcpu)})", "≤ 1.2",
                        median(ru) <= 1.2))
        why = cg.get("spawn_why")
        if why and why.get("calls"):
            c = why["calls"]
            w(f"Where clusterd's own system time goes, {why['n']} workers started and "
              "stopped: `strace -c` of clusterd alone (not its workers; strace slows "
              "every call, so compare the two columns, not with the table above).\n")
            w("| system call | calls yes | µs per call yes | s yes | calls no | µs per call no | s no |")
            w("|---|---:|---:|---:|---:|---:|---:|")
            names = sorted(set(c["yes"]) | set(c["no"]),
                           key=lambda k: -max(c["yes"].get(k, (0, 0, 0))[2], c["no"].get(k, (0, 0, 0))[2]))
            for name in names[:10]:
                cells = []
                for m in ("yes", "no"):
                    x = c[m].get(name)
                    cells.append(f"{x[0]} | {x[1]} | {x[2]:.3f}" if x else "- | - | -")
                w(f"| {name} | " + " | ".join(cells) + " |")
            w("")
            tot = {m: sum(v[0] for v in c[m].values()) for m in c}
            w(f"System calls in all: {tot['yes']} with cgroups, {tot['no']} without, "
              f"{(tot['yes'] - tot['no']) / why['n']:.0f} more per worker over its life.\n")
            ops = why.get("ops") or {}
            if ops:
                ks = sorted(ops, key=int)
                w(f"What the kernel takes for each cgroup operation, alone: {why['n']} "
                  f"sibling cgroups made, opened, watched and removed in a scratch "
                  f"cgroup under {why.get('root')}, from Python, no strace; µs per "
                  "operation.\n")
                w("| operation | " + " | ".join(f"{k} cgroups" for k in ks) + " |")
                w("|---|" + "---:|" * len(ks))
                for op in ops[ks[0]]:
                    w(f"| {op} | " + " | ".join(f"{ops[k][op]:.1f}" for k in ks) + " |")
                w("")


def report_upgrade(res, w, summary):
    up = res["upgrade"]
    cfgs = [c for c in up["configs"] if "error" not in c]
    f1 = lambda x: "-" if x is None or x != x else f"{x:.1f}"  # noqa: E731
    w("## Upgrading clusterd in place (issue 14)\n")
    w(f"`clusterctl -s CTL upgrade PATH`, PATH alternating between src/clusterd "
      f"({up['versions'][0]}) and t/alt/clusterd ({up['versions'][1]}: the same code "
      "built with another version string), C hello workers, clusterd -v (for the log "
      f"stamps below). For each case {up['count']} upgrades under a connection-per-request "
      "load on the port (bench/loadgen.c, 8 connections at a time, every failure counted), "
      f"after {up['count']} with no load; {up['gap']:g} s between upgrades, each "
      "asked once the previous answer came. **pause** = the \"in N ms\" clusterd "
      "answers and logs (from the request's arrival, monotonic clock, to the new image "
      "having taken everything over); **client** = wall time of the whole `clusterctl "
      "upgrade` process (start, connect, request, answer). Load average of the machine "
      f"at the start / end of this part: {' / '.join(up.get('loads', ['?', '?']))} "
      "(2 cores: other work on the machine lengthens every figure). Milliseconds.\n")
    w("| workers | cgroups | upgrades answered \"upgraded\" | pause p50 | p95 | max | "
      "client p50 | client max | under load: pause p50 | p95 | max | client p50 |")
    w("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in up["configs"]:
        if "error" in c:
            w(f"| {c['n']} | --cgroups={c['cg']} | not run: {c['error']} |" + " |" * 9)
            continue
        L, I = c["loaded"], c["idle"]
        ms = [x["ms"] for x in L if x["ms"] is not None]
        ims = [x["ms"] for x in I if x["ms"] is not None]
        cl = [x["client"] * 1e3 for x in L]
        icl = [x["client"] * 1e3 for x in I]
        ok = sum(x["ok"] for x in L + I)
        w(f"| {c['n']} | {c['cg']} ({c['mode']}) | {ok} of {len(L) + len(I)} | "
          f"{pct(ims, .5)} | {pct(ims, .95)} | {max(ims, default='-')} | {f1(pct(icl, .5))} | "
          f"{f1(max(icl, default=float('nan')))} | {pct(ms, .5)} | {pct(ms, .95)} | "
          f"{max(ms, default='-')} | {f1(pct(cl, .5))} |")
    w("")
    w("The load during the upgrades under load: \"during\" = requests in flight at any "
      "moment of an upgrade (from clusterctl's start to its exit); \"longest without an "
      "answer\" = the longest time between two consecutive answers from the first "
      "upgrade to the last; the requests outside the upgrades for comparison. "
      "Milliseconds.\n")
    w("| workers | cgroups | requests | during upgrades | failed (all) | failed during | "
      "max latency during | longest without an answer | outside: p50 | p99 | max |")
    w("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in cfgs:
        d = c["load"]
        kinds = ", ".join(f"{k} {v}" for k, v in d["kinds"].items() if v)
        w(f"| {c['n']} | {c['cg']} | {d['requests']} | {d['during']} | {d['failed']}"
          f"{' (' + kinds + ')' if kinds else ''} | {d['failed_during']} | "
          f"{f1(d['max_during'] * 1e3)} | {f1(d['longest_quiet'] * 1e3)} | "
          f"{d['p50_outside'] * 1e3:.2f} | {f1(d['p99_outside'] * 1e3)} | "
          f"{f1(d['max_outside'] * 1e3)} |")
    w("")
    w("clusterd itself, before the first upgrade (1 s after all workers were ready), "
      "after the first, and after the last (each read at the end of the gap that "
      f"follows it; {2 * up['count']} or {2 * up['count'] + 1} upgrades, ending on "
      "src/clusterd): VmRSS and its [heap] part in KiB, open descriptors "
      "(/proc/PID/fd); same pid, same worker pids and same listening socket (inode, "
      "/proc/net/tcp) after all of them.\n")
    w("| workers | cgroups | VmRSS before | after the 1st | after the last | min–max after the 1st… | "
      "[heap] before | [heap] after | fds before | after | fds min–max over the upgrades | same pid, workers, socket |")
    w("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for c in cfgs:
        seq = c["idle"] + c["loaded"]
        rs = [x["rss"] for x in seq]
        fs = [x["fds"] for x in seq]
        same = "/".join("yes" if c[k] else "**NO**" for k in ("same_pid", "same_workers", "same_socket"))
        w(f"| {c['n']} | {c['cg']} | {c['rss_before']['rss']} | {rs[0]} | {c['rss_after']['rss']} | "
          f"{spread(rs, '{:.0f}')} | {c['heap_before']} | {c['heap_after']} | {c['fds_before']} | "
          f"{c['fds_after']} | {spread(fs, '{:.0f}')} | {same} |")
    w("")
    diffs = []
    for c in cfgs:
        a, b = c["fd_kinds_before"], c["fd_kinds_after"]
        d = {k: b.get(k, 0) - a.get(k, 0) for k in set(a) | set(b) if b.get(k, 0) != a.get(k, 0)}
        if d:
            diffs.append(f"{c['n']} workers --cgroups={c['cg']}: " +
                         ", ".join(f"{k} {v:+d}" for k, v in sorted(d.items())))
    w("Descriptors by kind, after − before: " + ("; ".join(diffs) if diffs else
      "no change in any case") + ".\n")
    steps = [c for c in cfgs if c["heap_after"] - c["heap_before"] > 256]
    if steps:
        w("VmRSS steps up once, at the first upgrade, and stays flat after it: the step "
          "is in [heap], " + ", ".join(
              f"{(c['heap_after'] - c['heap_before']) / c['n']:.2f} KiB per worker at "
              f"{c['n']}{' with cgroups' if c['cg'] == 'yes' else ''}" for c in steps) +
          ". The new image keeps the state it read at the take-over (upgrade.c's "
          "`ad.in`: every record, key and value allocated on its own) for its whole "
          "life: upgrade_restore_end(), which frees it, is called in main() after run() "
          "returns, at exit.\n")
    small, big = min(cfgs, key=lambda c: c["n"]), max(cfgs, key=lambda c: c["n"])
    if big["load"]["p50_outside"] > 5 * small["load"]["p50_outside"]:
        w(f"At {big['n']} workers the load alone saturates the machine: requests outside "
          f"the upgrades took p50 {big['load']['p50_outside'] * 1e3:.1f} ms "
          f"({small['load']['p50_outside'] * 1e3:.2f} ms at {small['n']} workers). "
          "examples/hello watches the shared listening socket with plain EPOLLIN (no "
          f"EPOLLEXCLUSIVE), so each connection wakes all {big['n']} workers; clusterd's "
          "upgrade then waits for the CPU, which is what the pause under load shows at "
          "that size. The requests themselves wait in the backlog and are answered by the "
          "workers, which the upgrade does not stop: none failed.\n")
    # phases from the log stamps
    w("Where the pause goes, from the moments this script read clusterd's log lines "
      "(written unbuffered to a pipe; the upgrades with no load, median): "
      "**request** → \"upgrade to PATH asked for\" = clusterctl's start, connect, "
      "the request read; → \"upgrading to\" = the state written to a memfd and PATH "
      "--check-upgrade run in a child (fork, exec, read the state, parse the "
      "configuration) and reaped; → \"kept ADDRESS over the upgrade\" = the state written "
      "again, descriptors made inheritable, execveat, the new image's start, the state "
      "read and the sockets adopted; → \"upgraded\" = the rest taken over (slots, "
      "workers, notify sockets, cgroups); → the client's exit. Milliseconds.\n")
    phases = {}
    w("| workers | cgroups | → asked | → check done | → exec'd, sockets kept | → upgraded | → client exits | sum | pause p50 |")
    w("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for c in cfgs:
        seq = [x for x in c["idle"] if x["ok"] and None not in
               (x["asked"], x["upgrading"], x["kept"], x["done"])]
        ph = [[(x["asked"] - x["t0"]), (x["upgrading"] - x["asked"]), (x["kept"] - x["upgrading"]),
               (x["done"] - x["kept"]), (x["t1"] - x["done"])] for x in seq]
        if not ph:
            continue
        meds = [median([p[i] for p in ph]) * 1e3 for i in range(5)]
        w(f"| {c['n']} | {c['cg']} | " + " | ".join(f"{m:.1f}" for m in meds) +
          f" | {sum(meds):.1f} | {pct([x['ms'] for x in seq], .5)} |")
        phases[(c["n"], c["cg"])] = meds + [pct([x["ms"] for x in seq], .5)]
    for cg in ("no", "yes"):
        ns = sorted(n for n, g in phases if g == cg)
        if len(ns) >= 2:
            lo, hi = phases[(ns[0], cg)], phases[(ns[-1], cg)]
            per = [(b - a) / (ns[-1] - ns[0]) * 1e3 for a, b in zip(lo, hi)]
            w(f"| per worker, µs ({ns[0]} → {ns[-1]}) | {cg} | " +
              " | ".join(f"{x:.0f}" for x in per[:5]) + f" | {sum(per[:5]):.0f} | {per[5]:.0f} |")
    w("")
    for c in cfgs:
        if c["problems"]:
            w(f"Log lines of note, {c['n']} workers --cgroups={c['cg']}: " +
              "; ".join(f"`{l}`" for l in c["problems"][:5]) + "\n")
    why = up.get("why")
    if why:
        st = why.get("strace")
        if st and st.get("calls"):
            n = max(c["n"] for c in cfgs)
            calls = st["calls"]
            w(f"`strace -c -f` of clusterd (and its check child) during one upgrade at {n} "
              f"workers, --cgroups=no (strace makes every call slow: this upgrade took "
              f"{st['ms']} ms; the counts are what matters). Calls per worker = calls / {n}.\n")
            w("| system call | calls | per worker | µs per call | s |")
            w("|---|---:|---:|---:|---:|")
            for name, (cnt, us, s) in sorted(calls.items(), key=lambda kv: -kv[1][0])[:12]:
                w(f"| {name} | {cnt} | {cnt / n:.1f} | {us} | {s:.4f} |")
            w("")
        pf = why.get("perf")
        if pf and pf.get("funcs"):
            tot = sum(pf["by_comm"].values()) or 1
            comm = ", ".join(f"{'the check child' if k == '4' else k} {v / tot * 100:.0f}%"
                             for k, v in sorted(pf["by_comm"].items(), key=lambda kv: -kv[1]))
            ks = ", ".join(f"{'the check child' if k == '4' else k} {v / tot * 100:.0f}%"
                           for k, v in pf["kernel_self"].items())
            w(f"`perf record --call-graph dwarf` of clusterd over {len(pf['ms'])} upgrades "
              f"at {max(c['n'] for c in cfgs)} workers (under perf they took "
              f"{', '.join(str(x) for x in pf['ms'])} ms): samples by process: {comm}; "
              f"in the kernel: {ks}. clusterd's own functions, share of all samples "
              "with what they call (a caller and its callees overlap; the old and new "
              "image are both \"clusterd\").\n")
            w("| process | function | % of samples, with callees |")
            w("|---|---|---:|")
            skip = {"main", "_start", "run", "ev_run", "ev_invoke_pending", "__libc_start_main_impl"}
            k = 0
            for c, s, v in pf["funcs"]:
                if s.split()[0] in skip or v < 0.5:
                    continue
                w(f"| {'check child' if c == '4' else c} | {s} | {v:.1f} |")
                k += 1
                if k >= 16:
                    break
            w("")
    for c in cfgs:
        if c["cg"] != "no":
            continue
        ms = [x["ms"] for x in c["idle"] if x["ms"] is not None]
        lms = [x["ms"] for x in c["loaded"] if x["ms"] is not None]
        yes = next((y for y in cfgs if y["n"] == c["n"] and y["cg"] == "yes"), None)
        yms = [x["ms"] for x in yes["idle"] if x["ms"] is not None] if yes else []
        summary.append((f"upgrade: pause p50 (clusterd's \"in N ms\"), {c['n']} workers",
                        f"{pct(ms, .5)} ms (p95 {pct(ms, .95)}, max {max(ms)}; client p50 "
                        f"{pct([x['client'] for x in c['idle']], .5) * 1e3:.0f}); "
                        f"--cgroups=yes {pct(yms, .5) if yms else '-'} ms; under load "
                        f"{pct(lms, .5)} ms", "≤ 50 ms", pct(ms, .5) <= 50))
    failed = sum(c["load"]["failed"] for c in cfgs)
    worst = max(c["load"]["max_during"] for c in cfgs)
    summary.append(("upgrade: failed requests of a load on the port, all upgrades under load",
                    f"{failed}; slowest request during an upgrade {worst * 1e3:.1f} ms", "0",
                    failed == 0))
    leak = [c for c in cfgs if c["fds_after"] != c["fds_before"]]
    summary.append(("upgrade: clusterd's descriptors after all upgrades − before",
                    ", ".join(f"{c['n']}{' cg' if c['cg'] == 'yes' else ''}: "
                              f"{c['fds_after'] - c['fds_before']:+d}" for c in cfgs),
                    "0", not leak))
    # Each upgrade is a new address space, whose RSS differs from the last
    # one's by its layout (a 200 KiB spread is seen): a trend is the median
    # of the last ten against the median of the first ten.
    grow = []
    for c in cfgs:
        rs = [x["rss"] for x in c["idle"] + c["loaded"]]
        trend = int(statistics.median(rs[-10:]) - statistics.median(rs[:10]))
        grow.append((c, trend, c["rss_after"]["rss"] - c["rss_before"]["rss"]))
    lbl = lambda c: f"{c['n']}{' cg' if c['cg'] == 'yes' else ''}"  # noqa: E731
    summary.append(("upgrade: clusterd VmRSS, median of the last 10 upgrades − of the first 10",
                    ", ".join(f"{lbl(c)}: {g:+d} KiB" for c, g, _ in grow),
                    "no growth (≤ 64 KiB: fault-around)", all(g <= 64 for _, g, _ in grow)))
    summary.append(("upgrade: clusterd VmRSS, after the upgrades − before any",
                    ", ".join(f"{lbl(c)}: {b:+d} KiB" for c, _, b in grow),
                    "no growth (≤ 64 KiB: fault-around)", all(b <= 64 for _, _, b in grow)))


def merge_results(old, new, parts):
    """--only: the new sections and summary rows into the RESULTS.md of the
    last full run, the rest left as it was."""
    def blocks(text):
        head, out, cur = [], [], None
        for line in text.splitlines():
            if line.startswith("## "):
                cur = [line]
                out.append(cur)
            elif cur is None:
                head.append(line)
            else:
                cur.append(line)
        return head, out

    ohead, oblocks = blocks(old)
    _, nblocks = blocks(new)
    title = lambda b: b[0][3:].strip()  # noqa: E731
    nsum = next((b for b in nblocks if title(b) == "Summary: targets"), [])
    rows = [l for l in nsum if l.startswith("| ") and not l.startswith("| figure")]
    for b in oblocks:
        if title(b) != "Summary: targets":
            continue
        for r in rows:
            name = r.split(" | ")[0]
            i = next((i for i, l in enumerate(b) if l.split(" | ")[0] == name), None)
            if i is not None:
                b[i] = r
            else:
                last = max(i for i, l in enumerate(b) if l.startswith("|"))
                b.insert(last + 1, r)
    for nb in nblocks:
        if title(nb) in ("Summary: targets", "Misses and what the measurements say"):
            continue
        i = next((i for i, b in enumerate(oblocks) if title(b) == title(nb)), None)
        if i is not None:
            oblocks[i] = nb
        else:
            if oblocks and oblocks[-1][-1].strip():
                oblocks[-1].append("")
            oblocks.append(nb)
    note = (f"Partly updated: {', '.join(sorted(parts))} by `{os.environ.get('BENCH_COMMAND', 'bench.py')}` "
            f"on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} (their sections and summary rows; "
            "the rest is from the run above).")
    ohead = [l for l in ohead if not l.startswith("Partly updated: ")]
    while ohead and not ohead[-1].strip():
        ohead.pop()
    ohead += ["", note, ""]
    return "\n".join(ohead + [l for b in oblocks for l in b]) + "\n"


# -------------------------------------------------------------------- main

def part(name):
    """bench/NAME, a part kept in its own file (its bench(res) and
    report(res, w, summary)), with this module as its B."""
    from importlib.machinery import SourceFileLoader
    from importlib.util import module_from_spec, spec_from_loader
    path = os.path.join(BENCH, name)
    spec = spec_from_loader(f"bench_{name}", SourceFileLoader(f"bench_{name}", path))
    mod = module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.B = sys.modules[__name__]
    return mod


AUTOSCALE = part("autoscale")       # issue 15

BENCHES = [("throughput", bench_throughput), ("memory", bench_memory_idle),
           ("respawn", bench_respawn), ("scale", bench_scale),
           ("spawnlat", bench_spawnlat),
           ("balance", bench_balance), ("rolling", bench_rolling),
           ("relay", bench_relay), ("cgroups", bench_cgroups),
           ("upgrade", bench_upgrade), ("autoscale", AUTOSCALE.bench)]


def snapshot_binaries():
    """Run copies of clusterd, clusterctl and the C hello, so that a rebuild
    in the tree during the run cannot change what is measured."""
    global CLUSTERD, CTL, HELLO
    d = os.path.join(OUT, "bin")
    os.makedirs(d, exist_ok=True)
    for name in ("CLUSTERD", "CTL", "HELLO"):
        src = globals()[name]
        dst = os.path.join(d, os.path.basename(src))
        shutil.copy2(src, dst)
        globals()[name] = dst
    global ALT
    if os.access(ALT, os.X_OK):     # the second build for the upgrades
        dst = os.path.join(d, "clusterd-alt")
        shutil.copy2(ALT, dst)
        ALT = dst
    import hashlib
    with open(CLUSTERD, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:12]


def main():
    global P
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_const", dest="profile", const="quick",
                    default="full", help="tiny durations: a smoke run")
    ap.add_argument("--replot", action="store_true",
                    help="write RESULTS.md and the plots again from the last run's results.json")
    ap.add_argument("--only", default="", help="comma-separated: " +
                    ",".join(n for n, _ in BENCHES))
    args = ap.parse_args()
    P = PROFILES[args.profile]
    os.makedirs(OUT, exist_ok=True)
    if args.replot:
        with open(os.path.join(OUT, "results.json")) as f:
            res = json.load(f)
        args.profile = res.get("profile", args.profile)
        P = PROFILES[args.profile]
        if "scale" in res:
            res["scale"] = {int(k): v for k, v in res["scale"].items()}
        plots(res)
        md = report(res, args, res.get("seconds", 0), res.get("loads", ["?", "?"]))
        with open(os.path.join(BENCH, "RESULTS.md"), "w") as f:
            f.write(md)
        return
    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    only = set(filter(None, args.only.split(",")))
    res = dict(command=os.environ.get("BENCH_COMMAND", "python3 bench/bench.py " +
                                      " ".join(sys.argv[1:])).strip())
    sha = snapshot_binaries()
    res["machine"] = machine()
    res["machine"]["sha"] = sha
    loads = [read("/proc/loadavg").split()[:3]]
    t0 = time.monotonic()
    for name, fn in BENCHES:
        if only and name not in only:
            continue
        t = time.monotonic()
        fn(res)
        log(f"{name}: {time.monotonic() - t:.0f}s")
    loads.append(read("/proc/loadavg").split()[:3])
    cleanup()
    res["profile"] = args.profile
    res["when"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    res["seconds"] = time.monotonic() - t0
    res["loads"] = [" ".join(x) for x in loads]
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(res, f, indent=1, default=str)
    plots(res)
    md = report(res, args, res["seconds"], res["loads"])
    dest = os.path.join(BENCH, "RESULTS.md")
    if only and os.path.exists(dest):
        with open(dest) as f:
            md = merge_results(f.read(), md, only)
    with open(dest, "w") as f:
        f.write(md)
    log(f"wrote {dest} in {(time.monotonic() - t0) / 60:.1f} minutes")
    for name, val, target, ok in res["summary"]:
        log(f"  {name}: {val} (target {target}){'' if ok is None or ok is True else '  ' + yes(ok).strip('*')}")


if __name__ == "__main__":
    main()
