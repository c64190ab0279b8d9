"""Shared by the benchmark scripts: reading the DMS datasets' FASTA files."""
from pathlib import Path


def read_fasta(path):
    """[[id, sequence], ...] of a FASTA file (id = header up to the first space)."""
    recs, cur = [], None
    for line in Path(path).read_text().splitlines():
        if line.startswith(">"):
            cur = [line[1:].split()[0], ""]
            recs.append(cur)
        elif cur is not None:
            cur[1] += line.strip()
    return recs
