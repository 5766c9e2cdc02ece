"""``import unival`` with ``UNIVAL_KEEP_FREED_MEMORY=1`` keeps freed tensor memory in the
heap (glibc), except on the plain path, and a step that reuses that memory takes no new page
faults; without it glibc's defaults stay."""

import json
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")

# A 64 MiB tensor (above glibc's largest automatic mmap threshold, 32 MiB) is allocated,
# written and freed six times. Where its block lies (inside the brk heap, "[heap]" in
# /proc/self/maps, or in a mapping of its own) and the minor faults of the last two
# rounds are reported: the first rounds may still extend the heap.
PROBE = r"""
import json, resource, torch
import unival
from unival.models.perf import freed_memory_kept

def in_heap(address):
    for line in open("/proc/self/maps"):
        if line.rstrip().endswith("[heap]"):
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            if lo <= address < hi:
                return True
    return False

places, faults = [], []
for _ in range(6):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t = torch.empty(16 * 1024 * 1024)
    t.fill_(1.0)
    places.append(in_heap(t.data_ptr()))
    del t
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"kept": freed_memory_kept(), "in_heap": places, "faults": faults[4:]}))
"""


def probe(**env_overrides) -> dict:
    switches = ("UNIVAL_PLAIN_PATH", "UNIVAL_KEEP_FREED_MEMORY")
    env = {k: v for k, v in os.environ.items() if k not in switches}
    env.update(env_overrides)
    cmd = [sys.executable, "-c", PROBE]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_asked_for_import_keeps_freed_tensor_memory_in_the_heap():
    result = probe(UNIVAL_KEEP_FREED_MEMORY="1")
    assert result["kept"] is True
    assert result["in_heap"] == [True] * 6
    # 64 MiB is 16,384 pages; reusing the kept block touches none of them anew
    assert max(result["faults"]) < 200, result


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"UNIVAL_KEEP_FREED_MEMORY": "0"},
        {"UNIVAL_PLAIN_PATH": "1", "UNIVAL_KEEP_FREED_MEMORY": "1"},
    ],
)
def test_default_opt_out_and_plain_path_keep_glibcs_defaults(env):
    result = probe(**env)
    assert result["kept"] is False
    assert result["in_heap"] == [False] * 6
    # every round faults its pages in anew (fewer faults only where transparent huge pages
    # back the mapping, 2 MiB per fault)
    assert min(result["faults"]) >= 32, result


# 2,048 tensors of 32 KiB (below glibc's mmap threshold, so inside the heap) and a small
# live one above them; freeing the 2,048 leaves a 64 MiB hole whose pages stay resident
# until return_freed_memory() hands them back.
TRIM_PROBE = r"""
import json, torch
from unival.models.perf import return_freed_memory

def resident_mib():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20

blocks = [torch.ones(8 * 1024) for _ in range(2048)]
top = torch.ones(8 * 1024)
del blocks
before = resident_mib()
trimmed = return_freed_memory()
print(json.dumps({"trimmed": trimmed, "released_mib": before - resident_mib()}))
"""


def test_return_freed_memory_gives_a_freed_heap_hole_back():
    cmd = [sys.executable, "-c", TRIM_PROBE]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["trimmed"] is True
    assert result["released_mib"] > 48, result
