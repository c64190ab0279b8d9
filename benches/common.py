"""What the benchmark scripts share: running one engine as its own process (so that its peak memory is its own),
and esmdb's batching rule, which the reference engines are fed too."""
import os
import subprocess
import tempfile
import time


def run_timed(cmd, env=None):
    """Runs cmd to completion; returns (stdout, stderr, wall seconds, its own peak RSS in MiB) via wait4.
    A failure stops the benchmark with the command and the end of its stderr."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, text=True)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        o, e = out.read(), err.read()
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{e[-3000:]}")
    return o, e, wall, usage.ru_maxrss / 1024


def run(cmd, env=None):
    """run_timed without the wall time: (stdout, stderr, peak RSS in MiB)."""
    o, e, _, rss = run_timed(cmd, env)
    return o, e, rss


def sorted_batches(seqs, budget):
    """esmdb's batching (model/src/embed.rs `batches`): indices into seqs, length-sorted, a batch's padded size
    (members x the longest member + 2) at most `budget`, a lone sequence over it in a batch of its own."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    batches, cur = [], []
    for i in order:
        width = len(seqs[i]) + 2
        if cur and (len(cur) + 1) * width > budget:
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches
