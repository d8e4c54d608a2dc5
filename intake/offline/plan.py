"""Which statuses a reply sends: each code's newest decision, once, dated the day it was first sent."""

from dataclasses import dataclass
from typing import Any

from intake.formats import refcode
from intake.formats.payload import JSONObject
from intake.offline.decisions import Decision
from intake.offline.ledger import Ledger

DELIVERED = "delivered"
MORE_INFO = "more_info"


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


def _age(request: JSONObject, rows: dict[str, int]) -> tuple[str, bool, int]:
    # Newer: a later day; on the same day, a follow-up after a request; then a lower row
    # (decrypt adds rows at the end, so a lower row was decrypted later).
    return (request["received"], request["form"] == "followup", rows.get(request["item"], 0))


def oldest_first(requests: list[dict[str, Any]], rows: dict[str, int]) -> list[dict[str, Any]]:
    """A code's requests from oldest to newest, in the order a reply reads them."""
    return sorted(requests, key=lambda request: _age(request, rows))


def newest_decisions(
    requests: list[JSONObject], found: list[Decision], rows: dict[str, int]
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
    requests: list[JSONObject],
    found: list[Decision],
    rows: dict[str, int],
    ledger: Ledger,
    today: str,
    resend: bool = False,
) -> Plan:
    """Send what each code should now say, if it differs from what was last sent; with `resend`, all.

    A code says its newest decision; "delivered" while it has none and nothing was sent for it
    yet; and "delivered" too when its newest decision is more_info and a newer request of the
    code (the defender's answer) has come in since, until the secretariat decides again.
    """
    newest = newest_decisions(requests, found, rows)
    latest: dict[str, JSONObject] = {}
    for request in requests:
        code = request["reference"]
        if code not in latest or _age(request, rows) > _age(latest[code], rows):
            latest[code] = request
    by_item = {r["item"]: r for r in requests}
    outgoing, already_sent = [], 0
    for code in sorted(set(latest) | set(ledger.codes)):
        before = ledger.codes.get(code)
        decision = newest.get(code)
        if decision is not None:
            wanted = (decision.status, decision.message)
            if decision.status == MORE_INFO and _age(latest[code], rows) > _age(by_item[decision.item], rows):
                wanted = (DELIVERED, "")  # answered: it is here, and will be read
        elif before is None and code in latest:
            wanted = (DELIVERED, "")  # acknowledged by this reply, not decided yet
        else:
            wanted = None  # an empty row changes nothing
        if wanted is not None and (before is None or (before.status, before.message) != wanted):
            outgoing.append(Outgoing(code, *wanted, decided=today, new=True))
            continue
        already_sent += decision is not None
        if resend and before is not None:
            outgoing.append(Outgoing(code, before.status, before.message, before.decided, new=False))
    return Plan(tuple(outgoing), already_sent)
