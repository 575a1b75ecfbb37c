"""Cyclic garbage collection held off while large bodies are decoded.

Decoding a list of 10,000 pods or a syncz of 10,000 proxies creates millions of containers in
one burst. The collector counts each as an allocation and runs its young passes every 700 of
them, and, as the survivors pile up, full passes over everything alive: at 5,000 pods per
cluster that was 42-49 % of a diagnosis' CPU, for nothing, since decoded JSON holds no cycles
(reference counting frees it). Pausing the collector for the decode costs one young pass over
the new objects afterwards instead.

Decodes run on several threads at once, so the pause is counted: the collector is enabled
again when the last decode ends, and only if it was enabled before the first began. Then what
is alive is frozen (gc.freeze): the decoded facts are not scanned again by young and full
passes while the diagnosis reads them (another third of the collector's time). A diagnosis
ends with `thaw()`: everything frozen goes back to the collector and one full pass collects
what died meanwhile in a cycle, so the bot does not grow from one diagnosis to the next.
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator

_lock = threading.Lock()
_depth = 0
_resume = False
_collect_on_thaw = True
_standing = False
_thaws = 0

#: With standing data held out of collections (keep_standing), one thaw in this many still
#: unfreezes and collects everything: a cycle something froze meanwhile is not kept for good.
FULL_PASS_EVERY = 50


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic collection inside the block (reference counting goes on)."""
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.freeze()
                gc.enable()


def thaw() -> None:
    """Hand what decodes froze back to the collector and collect it (the end of a diagnosis).

    Cycles that died while frozen (a failed request's exception and traceback, holding the
    frames that held facts) wait in the oldest generation, which a full pass reaches only
    rarely: without this pass, the bot grew by megabytes per diagnosis (bench/soak.py). With
    the facts released it walks little more than the modules: tens of milliseconds.

    A process that ends after its diagnosis freezes everything instead: see
    `exiting_after_one_diagnosis`; a bot over a snapshot keeps it frozen: see
    `keep_standing`."""
    global _thaws
    if not _collect_on_thaw:
        gc.freeze()
        return
    _thaws += 1
    if _standing and _thaws % FULL_PASS_EVERY:
        gc.collect()  # what the diagnosis made; the standing data stays out of the pass
    else:
        gc.unfreeze()
        gc.collect()
    if _standing:
        gc.freeze()  # what survived (caches, the report) joins the standing data
    _return_free_memory()


def keep_standing() -> None:
    """Hold what is alive now out of every later collection: the snapshot a bot answers from
    (MESHBOT_SNAPSHOT) is millions of objects that live as long as the process, and thaw's full
    pass walked them all after every diagnosis (10,000 pods x 2: 1.5 s of a 2.2 s diagnosis).
    From now on thaw collects what is not frozen (what the diagnosis made) and freezes what
    survives; every FULL_PASS_EVERY-th thaw unfreezes and collects everything, as before.
    Their memory is still freed when they are dropped (reference counting)."""
    global _standing
    gc.collect()
    gc.freeze()
    _standing = True


def _return_free_memory() -> None:
    """Hand the memory a diagnosis freed back to the system (glibc's malloc_trim). A big mesh's
    bodies are tens of megabytes each, decoded on many threads: glibc keeps what they freed
    in its heaps, and the bot's RSS crept up by ~100 MB over 40 diagnoses of a 10,000-pod
    mesh while the objects Python held stayed flat (bench/soak.py). Nothing where the C
    library has no malloc_trim (musl, macOS)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@lru_cache(maxsize=1)
def _malloc_trim():
    import ctypes  # the bot's path only: a terminal diagnosis never thaws this way

    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None


def exiting_after_one_diagnosis() -> None:
    """A process that ends after its diagnosis (`meshbot mesh`, a bot's child) runs no cyclic
    collection at all: its garbage goes with the process, and reference counting frees all
    but cycles meanwhile (the peak RSS of a 10,000-pod diagnosis did not move).

    The collector's passes while the process imports its modules (young ones every 700
    objects made, full ones as the modules pile up) took a sixth of their import time, 0.07 s,
    and its young passes over what the checks make, another 0.05-0.1 s of a 10,000-pod
    diagnosis. The interpreter still runs a last full pass when it exits, collector off or
    not; with a big mesh's facts alive in cycles (a check context and the views it derived)
    that pass took 1.7 s of a 10,000-pod diagnosis' 6 s of CPU. Frozen objects are outside
    every pass, the last one included, so thaw freezes all that is alive instead: the process
    ends as soon as its output is out."""
    global _collect_on_thaw
    _collect_on_thaw = False
    gc.disable()
