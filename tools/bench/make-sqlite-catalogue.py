#!/usr/bin/env python3
"""Fills a SiloMerge SQLite catalogue with generated file rows, for measuring reports on big
catalogues without a big tree on disk (the SQLite counterpart of `silomerge-bench --hosts`).

    mkdir -p /tmp/big/s{1..20}
    silomerge scan -q --catalog /tmp/big/cat.sqlite $(for i in $(seq 1 20); do echo s$i=/tmp/big/s$i; done)
    python3 tools/bench/make-sqlite-catalogue.py /tmp/big/cat.sqlite --files 1000000
    time silomerge audit --no-scan --catalog /tmp/big/cat.sqlite

Rows as the PostgreSQL benchmark makes them: content ids 70 % unique, 30 % drawn from a tenth as
many ids (duplicate groups of about 3), sizes from the id, silos round-robin (file i in silo
i mod silos, folder i / --per-folder: the default 1,000 is the PostgreSQL benchmark's, so
each silo's folder d<n> holds 1,000 / silos files), folders --depth levels deep;
--folder-copies N copies N whole folders (the first N folders of silo 1) into silo 2 under
copies/, so there are duplicate folders to find.
"""
import argparse, hashlib, sqlite3, struct

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("catalogue")
ap.add_argument("--files", type=int, default=1_000_000)
ap.add_argument("--per-folder", type=int, default=1000)
ap.add_argument("--depth", type=int, default=1)
ap.add_argument("--folder-copies", type=int, default=0)
a = ap.parse_args()

db = sqlite3.connect(a.catalogue)
silos = [r[0] for r in db.execute("SELECT id FROM silo ORDER BY id")]
run = db.execute("SELECT max(id) FROM run").fetchone()[0]
assert silos and run, "scan the empty silos first (see --help)"

def sha(c): return hashlib.sha256(struct.pack(">q", c)).hexdigest()

def folder(n):
    """Folder n: d<n> at --depth 1; deeper, inside g<n // 10>/, g<n // 100>/… (ten a level)."""
    return "/".join(["g%d" % (n // 10 ** j) for j in range(a.depth - 1, 0, -1)] + ["d%d" % n])

def rows():
    n = a.files
    for i in range(1, n + 1):
        c = (i * 2654435761) % max(1, n // 10) if i % 10 < 3 else n + i
        s = silos[i % len(silos)]
        yield (s, folder(i // a.per_folder), "f%d.jpg" % i, 1024 + (c * 7919) % 4000000, 1700000000000000000 + i,
               1700000000000000000 + i, 2049, i, 1, 33188, 1000, 1000, sha(c), "2026-12-01T00:00:00.000Z", run)

db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=OFF")
with db:
    db.executemany("""INSERT INTO file (silo_id, dir, name, size, mtime_ns, ctime_ns, dev, ino, nlink, mode, uid, gid,
                      sha256, hashed_at, first_seen_run) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""", rows())
with db:
    if a.folder_copies and len(silos) > 1:
        dirs = [r[0] for r in db.execute("SELECT DISTINCT dir FROM file WHERE silo_id = ? ORDER BY dir LIMIT ?",
                                         (silos[0], a.folder_copies))]
        for d in dirs:
            db.execute("""INSERT INTO file (silo_id, dir, name, size, mtime_ns, ctime_ns, dev, ino, nlink, mode, uid, gid,
                          sha256, hashed_at, first_seen_run)
                          SELECT ?, 'copies/' || dir, 'copy-' || name, size, mtime_ns, ctime_ns, dev, ino + 100000000, nlink,
                                 mode, uid, gid, sha256, hashed_at, first_seen_run FROM file WHERE silo_id = ? AND dir = ?""",
                       (silos[1], silos[0], d))
db.execute("ANALYZE")
print(db.execute("SELECT count(*), count(DISTINCT silo_id || '/' || dir) FROM file").fetchone())
