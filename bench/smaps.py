"""bench/smaps.py: a process's mappings from /proc/PID/smaps and its
threads' stack pointers, for the benchmarks that split a VMM's memory into
guest RAM, thread stacks and the rest (bench/boot.sh's poller,
bench/loadmem.py)."""
import os
import re
import time

HDR = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$")


def smaps(pid):
    """[[start, end, path, size_kib, rss_kib], ...] ("" for anonymous), or
    None when the process is gone or has none."""
    maps = []
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                m = HDR.match(line)
                if m:
                    maps.append([int(m.group(1), 16), int(m.group(2), 16), m.group(3), 0, 0])
                elif line.startswith("Size:"):
                    maps[-1][3] = int(line.split()[1])
                elif line.startswith("Rss:"):
                    maps[-1][4] = int(line.split()[1])
    except (OSError, IndexError):
        return None
    return maps or None


def join_ram(maps, ram_kib):
    """ember's guest RAM is two mappings once it asked for huge pages past
    its first 2 MiB (the madvise splits it): a 2048 KiB anonymous mapping
    followed at once by one of the rest. Counted as one, as it is."""
    for i in range(len(maps) - 1):
        a, b = maps[i], maps[i + 1]
        if a[3] == 2048 and a[1] == b[0] and a[3] + b[3] == ram_kib and a[2] == b[2] == "":
            return maps[:i] + [[a[0], b[1], "", ram_kib, a[4] + b[4]]] + maps[i + 2:]
    return maps


def threads(pid):
    """{tid: (comm, stack pointer or None)}; a thread gone meanwhile is left out."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for t in tids:
        d = "/proc/%d/task/%s/" % (pid, t)
        sp = None
        try:
            comm = open(d + "comm").read().strip()
            # "running" while the thread runs (a vCPU in the guest): ask again
            for _ in range(50):
                f = open(d + "syscall").read().split()
                if len(f) >= 3:
                    sp = int(f[-2], 16)
                    break
                time.sleep(0.002)
        except (OSError, ValueError):
            continue
        out[int(t)] = (comm, sp)
    return out
