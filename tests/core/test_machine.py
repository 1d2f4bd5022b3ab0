"""The machine description that every benchmark's JSON line carries."""

import json

from core import machine


def test_the_description_names_the_cpu_and_only_speed_flags() -> None:
    described = machine.describe()
    assert json.loads(json.dumps(described)) == described  # fits a JSON line as it is
    assert described["cpu_model"] and described["cpu_count"] >= 1
    flags = str(described["cpu_flags"]).split()
    assert set(flags) <= set(machine.SPEED_FLAGS) and set(flags) <= machine.cpu_flags()


def test_threads_are_the_cores_other_work_leaves_free() -> None:
    assert machine.free_cores(2, 0) == 2
    assert machine.free_cores(2, 1) == 1
    assert machine.free_cores(2, 9) == 1  # never none
    assert machine.free_cores(8, 2.4) == 6
    assert machine.threads(3) == 3  # configured wins
    assert 1 <= machine.threads() <= machine.cores()
