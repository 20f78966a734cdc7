"""Composition: wires definitions, plans, the runtime, executors and stores together.

Importing it installs the engine behind ``Flow.kickoff()`` and ``Workflow.run()``.
"""

from plait.define import install_engine
from plait.engine._backends import StoreURL, open_store, owned_store
from plait.engine._engine import ENGINE, Engine
from plait.engine._fork import fork, rerun_from
from plait.engine._inputs import (
    InputField,
    input_fields,
    parse_pairs,
    parse_text,
    schema_check,
    state_fields,
    type_check,
)
from plait.engine._loader import (
    ALLOW_ENV,
    NAME_IT,
    TargetError,
    allowed_paths,
    definition_ref,
    load_definition,
    load_target,
    resume_needs,
    stored_ref,
)
from plait.engine._log import StoredRun, find_run, follow_run, load_run
from plait.engine._respond import record_answer
from plait.engine._schemes import (
    StoreScheme,
    register_store_scheme,
    unregister_store_scheme,
)
from plait.engine._shaping import (
    STALE,
    Span,
    is_live,
    jsonable,
    outcome_doc,
    record_doc,
    run_doc,
    run_duration,
    run_output,
    run_status,
    spans,
)
from plait.engine._travel import MISSING, Checkpoint, checkpoints, diff, state_at
from plait.engine._worker import Recovered, recover, work

install_engine(ENGINE)

__all__ = [
    "ALLOW_ENV",
    "ENGINE",
    "MISSING",
    "NAME_IT",
    "STALE",
    "Checkpoint",
    "Engine",
    "InputField",
    "Recovered",
    "Span",
    "StoreScheme",
    "StoreURL",
    "StoredRun",
    "TargetError",
    "allowed_paths",
    "checkpoints",
    "definition_ref",
    "diff",
    "find_run",
    "follow_run",
    "fork",
    "input_fields",
    "is_live",
    "jsonable",
    "load_definition",
    "load_run",
    "load_target",
    "open_store",
    "outcome_doc",
    "owned_store",
    "parse_pairs",
    "parse_text",
    "record_answer",
    "record_doc",
    "recover",
    "register_store_scheme",
    "rerun_from",
    "resume_needs",
    "run_doc",
    "run_duration",
    "run_output",
    "run_status",
    "schema_check",
    "spans",
    "state_at",
    "state_fields",
    "stored_ref",
    "type_check",
    "unregister_store_scheme",
    "work",
]
