"""Concept studies: many closed-loop evaluations (variant x policy x period x seed) on Dask.

`load_study_spec` validates a study file, `run_study` computes its unfinished tasks on a
LocalCluster or an existing Dask cluster, `write_study_report` writes the HTML and CSV report.
See docs/studies.md.
"""

from energy.study.engine import StudyOutcome, StudyProgress, run_study
from energy.study.report import write_study_report
from energy.study.spec import StudySpec, StudySpecError, load_study_spec
from energy.study.tasks import StudyTask, expand_tasks

__all__ = [
    "StudyOutcome",
    "StudyProgress",
    "StudySpec",
    "StudySpecError",
    "StudyTask",
    "expand_tasks",
    "load_study_spec",
    "run_study",
    "write_study_report",
]
