#!/usr/bin/env python3
"""Counts the numbered lines of tests/integration/apps/loglines.py across a log file and every
backup of it (NAME.YYYYMMDD-HHMMSS[-N][.gz]) in its directory, and prints one line:
  lines=N unique=N min=N max=N torn=N files=N backups=N gz=N biggest=BYTES rotated=N
torn counts lines that are neither a whole numbered line nor a line of the vassal itself
("NAME: ...", "NAME worker N: ..."); the first few are printed to stderr."""
import gzip
import os
import re
import sys

path = sys.argv[1]
directory, base = os.path.split(path)
backup = re.compile(re.escape(base) + r"\.\d{8}-\d{6}(-[1-9]\d*)?(\.gz)?$")
numbered = re.compile(rb"L (\d{9}) abcdefghijklmnopqrstuvwxyz0123456789$")
own = re.compile(rb"([\w.-]+ worker \d+|[\w.-]+): ")

names = sorted(n for n in os.listdir(directory) if backup.match(n))
files = [os.path.join(directory, n) for n in names]
if os.path.exists(path):
    files.append(path)

seen = bytearray()
lines = unique = torn = rotated = gz = biggest = 0
low, high = None, -1
for f in files:
    size = os.path.getsize(f)
    if f.endswith(".gz"):
        gz += 1
        data = gzip.open(f).read()
    else:
        data = open(f, "rb").read()
        biggest = max(biggest, size)
    for line in data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n"):
        m = numbered.match(line)
        if m:
            n = int(m.group(1))
            if n >= len(seen):
                seen.extend(bytes(n + 1 - len(seen) + 1000000))
            lines += 1
            if not seen[n]:
                seen[n] = 1
                unique += 1
            low = n if low is None else min(low, n)
            high = max(high, n)
        elif own.match(line):
            rotated += b"log rotated to" in line
        else:
            torn += 1
            if torn <= 3:
                print("torn line in %s: %r" % (f, line[:200]), file=sys.stderr)
    if data and not data.endswith(b"\n"):
        torn += 1
        print("%s does not end with a newline" % f, file=sys.stderr)
print("lines=%d unique=%d min=%s max=%d torn=%d files=%d backups=%d gz=%d biggest=%d rotated=%d"
      % (lines, unique, low, high, torn, len(files), len(names), gz, biggest, rotated))
