"""The labs: a catalogue of lab folders (``labs/NN-slug/``) and the grading engine.

    from labs import grade, list_labs, get_lab, Gradebook

    result = grade("01-mqtt-telemetry", "alice", Path("my_device.py"), progress=print)
    print(result.render_text())
    Gradebook("citylab.sqlite").record(result)
"""

from labs.catalogue import Lab, get_lab, list_labs
from labs.engine import CheckResult, Gradebook, GradeResult, SolutionInfo, grade

__all__ = ["CheckResult", "GradeResult", "Gradebook", "Lab", "SolutionInfo", "get_lab", "grade", "list_labs"]
