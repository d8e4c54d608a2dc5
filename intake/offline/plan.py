"""Which statuses a reply sends: each code's newest decision, once, dated the day it was first sent."""

from dataclasses import dataclass

from .. import refcode
from .decisions import Decision
from .ledger import Ledger


@dataclass(frozen=True)
class Outgoing:
    """One status to send: `decided` is today for a change, the day recorded for a re-send."""

    code: str  # as displayed, like request.json's "reference"
    status: str
    message: str
    decided: str
    new: bool


@dataclass(frozen=True)
class Plan:
    """What a reply sends, and how many decisions it did not send again because they were sent."""

    outgoing: tuple[Outgoing, ...]
    already_sent: int


def _age(request: dict, rows: dict[str, int]) -> tuple:
    # Newer: a later day; on the same day, a follow-up after a request; then a lower row
    # (decrypt adds rows at the end, so a lower row was decrypted later).
    return (request["received"], request["form"] == "followup", rows.get(request["item"], 0))


def newest_decisions(
    requests: list[dict], found: list[Decision], rows: dict[str, int]
) -> dict[str, Decision]:
    """For each code, the decision on the row of its newest request that has one."""
    by_item = {r["item"]: r for r in requests}
    newest: dict[str, Decision] = {}
    for decision in found:
        code = refcode.display(decision.code)
        current = newest.get(code)
        if current is None or _age(by_item[decision.item], rows) > _age(by_item[current.item], rows):
            newest[code] = decision
    return newest


def plan(
    requests: list[dict],
    found: list[Decision],
    rows: dict[str, int],
    ledger: Ledger,
    today: str,
    resend: bool = False,
) -> Plan:
    """Send a code's newest decision if it differs from what was last sent; with `resend`, all."""
    newest = newest_decisions(requests, found, rows)
    outgoing, already_sent = [], 0
    for code in sorted({r["reference"] for r in requests} | set(ledger.codes)):
        before = ledger.codes.get(code)
        decision = newest.get(code)
        wanted = (decision.status, decision.message) if decision else None
        if wanted is not None and (before is None or (before.status, before.message) != wanted):
            outgoing.append(Outgoing(code, *wanted, decided=today, new=True))
            continue
        already_sent += wanted is not None
        if resend and before is not None:
            outgoing.append(Outgoing(code, before.status, before.message, before.decided, new=False))
    return Plan(tuple(outgoing), already_sent)
