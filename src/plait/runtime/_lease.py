"""Leases: which process runs a stored run now, so that no two ever do.

A run in a durable store is owned by the process running it: it takes the run's lease
when it starts or resumes the run, renews it every third of ``ttl`` (a heartbeat), and
releases it when the run ends. A run whose lease has run out — its process died, or hung
longer than ``ttl`` — can be taken over (``plait worker``, ``resume``). A dead owner is
found at once when it was a process of this very kernel and PID namespace (the owner id
names the boot id and the PID namespace beside the process id), so resuming right after
a crash does not wait for the lease to run out. An owner in another container, PID
namespace or machine — even one with the same hostname, as sidecars in one Kubernetes
pod have — is never judged dead from here: its lease is taken over only once its
heartbeat has stopped for ``ttl``.

A process that could not renew its lease in time stops its run: another process may
already own it. The store's in-order append keeps the log whole even then.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

from plait.core import RunBusyError, RunError, StoreError
from plait.runtime.ports import RunRecord, Store

DEFAULT_TTL = 30.0
"""Seconds a lease lasts without a heartbeat (``PLAIT_LEASE_TTL`` overrides)."""

_HOST = socket.gethostname()


def _scope() -> str:
    """Where a process id means one process: this boot of the kernel and this PID
    namespace (Linux); ``"host"`` where the system has neither (no containers there)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip().replace("-", "")[:16]
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return "host" if not os.path.exists("/proc") else "unknown"
    return f"{boot}.{namespace}"


_SCOPE = _scope()


def lease_ttl() -> float:
    raw = os.environ.get("PLAIT_LEASE_TTL")
    if not raw:
        return DEFAULT_TTL
    try:
        ttl = float(raw)
    except ValueError:
        raise RunError(f"PLAIT_LEASE_TTL={raw!r} is not a number of seconds") from None
    if not ttl > 0:
        raise RunError(f"PLAIT_LEASE_TTL={raw!r} must be more than 0 seconds")
    return ttl


def new_owner() -> str:
    """An owner id: host, process scope (boot id and PID namespace), process id and a
    token unique to this run attempt."""
    return f"{_HOST}:{_SCOPE}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner: str) -> bool:
    """Whether ``owner`` is certainly a process that no longer exists: one of this kernel
    boot and PID namespace whose process id is gone. Anything else — another host,
    container or namespace, an owner id of an older format — may be alive."""
    parts = owner.rsplit(":", 3)
    if len(parts) != 4:
        return False
    host, scope, pid_text, _token = parts
    if host != _HOST or scope != _SCOPE or scope == "unknown" or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def is_stale(record: RunRecord, now: float) -> bool:
    """Whether nobody runs ``record`` any more: no live lease, or a dead owner here."""
    if not record.owner:
        return True
    return record.lease_until < now or owner_is_dead(record.owner)


async def create_run(store: Store, lease: Lease | None, **fields: Any) -> None:
    """Create the run (``fields`` of its :class:`RunRecord`), already leased to ``lease``
    when that is not held yet: the run is its process's from its first write, with no
    acquire (a commit) after it. A create that raised may be stored all the same (a
    cancel, a lost reply), so the lease is then given back."""
    if lease is None or lease.held:
        await store.create_run(RunRecord(**fields))
        return
    until = fields["created_at"] + lease.ttl
    lease.held = True  # from here on, release() gives it back
    try:
        await store.create_run(RunRecord(**fields, owner=lease.owner, lease_until=until))
    except BaseException:
        await asyncio.shield(lease.release())
        raise


class Lease:
    """One run's lease, held by this process while it runs the run."""

    def __init__(self, store: Store, run_id: str, *, ttl: float | None = None) -> None:
        self.store = store
        self.run_id = run_id
        self.owner = new_owner()
        self.ttl = lease_ttl() if ttl is None else ttl
        self._beat: asyncio.Task[None] | None = None
        self._stopped = False
        self.held = False

    async def take(self, record: RunRecord | None = None) -> None:
        """Take the lease, or raise RunError naming who holds it. A holder that is a dead
        process on this machine is replaced at once."""
        if await self.store.acquire(self.run_id, self.owner, self.ttl):
            self.held = True
            return
        record = await self.store.get_run(self.run_id) if record is None else record
        if (
            record is not None
            and record.owner
            and owner_is_dead(record.owner)
            and await self.store.acquire(self.run_id, self.owner, self.ttl, replace=record.owner)
        ):
            self.held = True
            return
        holder = record.owner if record is not None else "another process"
        left = max(0.0, (record.lease_until if record is not None else 0.0) - time.time())
        raise RunBusyError(
            f"run {self.run_id} is being run by {holder} (its lease runs for {left:.0f} s "
            "more); if that process died, its lease runs out and plait worker (or resume) "
            "takes the run over then",
            run_id=self.run_id,
        )

    def keep(self, lost: Callable[[BaseException], None]) -> None:
        """Renew the lease every third of its ttl until :meth:`release`; call ``lost``
        when a renewal fails (the store is unreachable, or another process took it)."""
        self._stopped = False
        self._beat = asyncio.get_running_loop().create_task(self._heartbeat(lost))

    async def _heartbeat(self, lost: Callable[[BaseException], None]) -> None:
        # The flag, not only the cancel, ends the loop: a driver may swallow a cancel that
        # lands inside a command (redis-py 8.0-8.2 do), and release() would wait forever.
        while self._beating():
            await asyncio.sleep(self.ttl / 3)
            if not self._beating():
                return
            try:
                ok = await self.store.acquire(self.run_id, self.owner, self.ttl)
            except Exception as exc:
                if self._beating():  # not a cancel the driver turned into an error
                    lost(exc)
                return
            if not self._beating():
                return
            if not ok:
                self.held = False
                lost(
                    StoreError(
                        f"run {self.run_id} lost its lease: this process did not renew it "
                        f"within {self.ttl:g} s and another process took the run over; this "
                        "process stops running it"
                    )
                )
                return

    def _beating(self) -> bool:
        return not self._stopped

    async def release(self) -> None:
        """Stop the heartbeat and give the lease back (errors are ignored: it expires)."""
        beat, self._beat = self._beat, None
        self._stopped = True
        if beat is not None:
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)
        if self.held:
            self.held = False
            try:
                await self.store.release(self.run_id, self.owner)
            except Exception:  # the lease runs out by itself
                return
