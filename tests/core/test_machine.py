"""The machine description that every benchmark's JSON line carries."""

import json

from core import machine


def test_the_description_names_the_cpu_and_only_speed_flags() -> None:
    described = machine.describe()
    assert json.loads(json.dumps(described)) == described  # fits a JSON line as it is
    assert described["cpu_model"] and described["cpu_count"] >= 1
    flags = str(described["cpu_flags"]).split()
    assert set(flags) <= set(machine.SPEED_FLAGS) and set(flags) <= machine.cpu_flags()
