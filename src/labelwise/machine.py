"""The machine the embedded model runs on: its cores, how busy other processes keep them, and
how many threads llama.cpp should take.

llama.cpp's threads meet at a barrier after every layer, so one thread that waits for a core
holds up all the others: on a machine whose cores are also busy with other work, two threads
can be slower than one. With ``annotator.n_threads`` unset the embedded backend
takes the cores other processes leave free (at least one), measured over a fraction of a second
when the model loads; ``estimate`` and ``annotate`` say when the machine is busy and what it
costs. Nothing here runs at import time.
"""
from __future__ import annotations

import os
from dataclasses import dataclass


def cores() -> int:
    """The cores this process may run on (its affinity mask, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _cpu_busy_seconds() -> float | None:
    """Seconds of CPU time all processes used so far (``/proc/stat``), None where unreadable."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            parts = f.readline().split()
    except OSError:
        return None
    if not parts or parts[0] != "cpu":
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in parts[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def other_load(sample_s: float = 0.3) -> float | None:
    """Cores kept busy by *other* processes right now: all CPU time used over ``sample_s``
    seconds less this process's own. Unlike the load average it neither lags a minute behind
    nor counts this process. Falls back to the 1-minute load average; None where neither is
    known."""
    import time
    before, own_before, t0 = _cpu_busy_seconds(), sum(os.times()[:2]), time.perf_counter()
    if before is None:
        try:
            return os.getloadavg()[0]
        except (AttributeError, OSError):
            return None
    time.sleep(sample_s)
    after, own_after, t1 = _cpu_busy_seconds(), sum(os.times()[:2]), time.perf_counter()
    if after is None:
        return None
    return max(0.0, ((after - before) - (own_after - own_before)) / (t1 - t0))


@dataclass(frozen=True)
class Threads:
    n: int                 # threads the model takes
    cores: int
    load: float | None     # cores other processes kept busy when it was decided
    chosen: str            # "set" (annotator.n_threads) or "auto"

    @property
    def busy(self) -> bool:
        """Other work already keeps the cores the model's threads need."""
        return self.load is not None and self.load >= 0.5 and self.load + self.n > self.cores + 0.5

    def message(self) -> str:
        if self.load is None:
            return f"{self.n} thread(s) on {self.cores} core(s)"
        text = f"{self.n} thread(s) on {self.cores} core(s); other processes keep {self.load:.1f} busy"
        if self.busy:
            text += (": the machine is busy, and llama.cpp slows sharply when its threads wait for cores "
                     "(each layer waits for the slowest thread); a time measured now holds only under this load"
                     + ("; set annotator.n_threads lower, or free the cores" if
                                          self.chosen == "set" else ""))
        elif self.chosen == "auto" and self.n < self.cores:
            text += f": {self.cores - self.n} core(s) left to the other work"
        return text


def threads_for(requested: int | None, n_cores: int | None = None, load: float | None = None) -> Threads:
    """``requested`` threads as set, else the cores that other processes leave free (at least
    one); ``load`` defaults to :func:`other_load` measured now."""
    n_cores = cores() if n_cores is None else n_cores
    load = other_load() if load is None else load
    if requested is not None:
        return Threads(requested, n_cores, load, "set")
    free = n_cores if load is None else n_cores - int(load + 0.5)
    return Threads(max(1, min(n_cores, free)), n_cores, load, "auto")
