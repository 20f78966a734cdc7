"""Errors a run reports: a failed step, a completion that could not be stored."""

from __future__ import annotations

from plait.core import StepError, StepTimeoutError, StoreError


def error_text(text: str) -> str:
    """``text`` as an error message a store can hold: a lone surrogate (a file name
    decoded with ``os.fsdecode``, say) written as its ``\\udcff`` escape, which UTF-8
    cannot encode and which would otherwise keep the run's failure from being stored."""
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def step_error(
    exc: BaseException,
    flow: str,
    run_id: str,
    step: str,
    attempt: int,
    timeout: float | None,
    kind: str = "flow",
) -> StepError:
    """The error a run fails with when ``step`` raised ``exc`` on its last attempt; the
    user's exception is its ``__cause__``. ``kind``: the plan's (``"flow"``,
    ``"workflow"``), as the message names it."""
    if isinstance(exc, StepError):
        return exc
    where = f"step {step!r} of {kind} {flow!r} (run {run_id}, attempt {attempt})"
    if isinstance(exc, TimeoutError) and timeout is not None:
        err: StepError = StepTimeoutError(
            f"{where} timed out after {timeout} s",
            flow=flow,
            run_id=run_id,
            step=step,
            attempt=attempt,
        )
    else:
        err = StepError(
            f"{where} failed: {type(exc).__name__}: {exc}",
            flow=flow,
            run_id=run_id,
            step=step,
            attempt=attempt,
        )
    err.__cause__ = exc
    return err


def unstored(
    exc: BaseException, flow: str, run_id: str, step: str, kind: str = "flow"
) -> StoreError:
    """The error a run fails with when what ``step`` did could not be stored; nothing that
    depends on it has started (``durability="sync"``). The store's error is its cause."""
    if isinstance(exc, StoreError) and f"run {run_id}: step {step!r}" in str(exc):
        return exc  # says so already
    err = StoreError(
        f"{kind} {flow!r}, run {run_id}: step {step!r} finished, but what it did could not "
        f"be stored, so nothing that depends on it was started: {exc}"
    )
    err.__cause__ = exc
    return err
