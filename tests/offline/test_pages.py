"""The static pages, for reading without the desk: the same readable rendering, threads and statuses."""

import re
from html import unescape

from intake.offline import questions

from ..actors import Secretariat
from .helpers import decide_in_desk


def text_of(html: str) -> str:
    """A page (or part of one) as text: tags dropped, entities read."""
    return unescape(re.sub(r"<[^>]+>", " ", html))


def index(out) -> str:
    return (out / "index.html").read_text(encoding="utf-8")


def test_request_pages_read_like_the_form_in_the_language_chosen_and_follow_ups_join_their_case(world):
    empty = {"family_details": "", "measures_details": "", "amount_eur": "", "contact_safety": ""}
    code = world.submit("es", "individual", contact_language="es", country="CO", **empty)
    feedback = world.submit("fr", "feedback", reference_code=code)
    world.export_decrypt("--lang", "fr")
    out = world.out
    path, case = Secretariat.page_of(out, world.item(code))
    shown = text_of(case)
    for msgid in ("How urgent is the situation?", "What protection measures are needed?", "Confidentiality"):
        assert questions.tr(msgid, "fr") in shown and questions.tr(msgid, "fr") != msgid
    assert "Colombie" in shown and questions.tr("No, keep it confidential", "fr") in shown
    for raw in ("keep_confidential", "legal_aid", "Hr work", "not_sure", "this_site"):
        assert raw not in shown
    assert questions.tr("About the family members at risk", "fr") not in shown  # empty: hidden
    assert code in shown and f'<bdi dir="ltr" class="code">{code}</bdi>' in case
    # The feedback names the request it is about: a link to that case on its page.
    _, about = Secretariat.page_of(out, world.item(feedback))
    assert f'href="{path.name}#case-{world.item(code)}"' in about
    index_html = index(out)
    assert index_html.count('<span class="new">new</span>') == 2 and "needs a decision" in index_html

    # The secretariat asks for more; the defender answers; the next decrypt threads the answer.
    with world.desk() as desk:
        decide_in_desk(desk, world.item(code), "more_info", "Quelle est la date de l'audience ?")
    assert "more info" in text_of(index(out))  # the desk keeps index.html current
    world.reply(world.base / "r1.bin")
    assert "sent: more_info" in text_of(index(out))
    assert world.operator.import_(world.base / "r1.bin").returncode == 0
    world.defender.follow_up("es", code, "El 12 de marzo.")
    world.export_decrypt("--lang", "fr")
    # The answer joins its case on the page of the run that brought the case: no page of its own.
    for item in (world.item(code, "individual"), world.item(code, "followup")):
        where, thread = Secretariat.page_of(out, item)
        assert where == path, item
        thread = text_of(thread)
        assert "Quelle est la date de l'audience ?" in thread and "El 12 de marzo." in thread, item
        assert thread.index("Quelle est la date") < thread.index("El 12 de marzo.")
    assert not (out / "requests" / "run-2-page-1.html").exists()
    index_html = index(out)
    assert (
        index_html.count('<span class="new">new</span>') == 1 and "answered: needs a decision" in index_html
    )
