"""proofs_checks package (see docs/architecture.md and docs/claims.md).

:func:`study` runs the checks on your own instances, methods and grids (:mod:`proofs_checks.studies`);
:func:`load_results` reads an output folder's ``results.csv`` into a pandas DataFrame (extra ``analysis``).
"""

from .report import load_results
from .studies import Study, StudyError, StudyResults, study

__all__ = ["Study", "StudyError", "StudyResults", "load_results", "study"]
