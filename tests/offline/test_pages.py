"""The static pages, for reading without the desk: the same readable rendering, threads and statuses."""

import re
from html import unescape

from intake.offline import questions

from ..conftest import csrf_token
from .helpers import Desk, decide_in_desk, tool
from .test_desk_decisions import World


def text_of(path) -> str:
    """A page as text: tags dropped, entities read."""
    return unescape(re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8")))


def test_request_pages_read_like_the_form_in_the_language_chosen_and_follow_ups_join_their_case(tmp_path):
    world = World(tmp_path)
    empty = {"family_details": "", "measures_details": "", "amount_eur": "", "contact_safety": ""}
    code = world.submit("es", "individual", contact_language="es", country="CO", **empty)
    feedback = world.submit("fr", "feedback", reference_code=code)
    world.exports += 1
    bundle = world.base / "export-1.bin"
    tool("intake", "export", "--out", bundle, env=world.env)
    world.secretariat.decrypt(bundle, "--lang", "fr")
    out = world.secretariat.out
    page = out / "requests" / world.item(code) / "request.html"
    shown = text_of(page)
    for msgid in ("How urgent is the situation?", "What protection measures are needed?", "Confidentiality"):
        assert questions.tr(msgid, "fr") in shown and questions.tr(msgid, "fr") != msgid
    assert "Colombie" in shown and questions.tr("No, keep it confidential", "fr") in shown
    for raw in ("keep_confidential", "legal_aid", "Hr work", "not_sure", "this_site"):
        assert raw not in shown
    assert questions.tr("About the family members at risk", "fr") not in shown  # empty: hidden
    assert code in shown and f'<bdi dir="ltr" class="code">{code}</bdi>' in page.read_text(encoding="utf-8")
    # The feedback names the request it is about: a link to that case's page.
    about = (out / "requests" / world.item(feedback) / "request.html").read_text(encoding="utf-8")
    assert f'href="../{world.item(code)}/request.html"' in about
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.count('<span class="new">new</span>') == 2 and "needs a decision" in index

    # The secretariat asks for more; the defender answers; the next decrypt threads the answer.
    with Desk(world.secretariat) as desk:
        decide_in_desk(desk, world.item(code), "more_info", "Quelle est la date de l'audience ?")
    assert "more info" in text_of(out / "index.html")  # the desk keeps index.html current
    world.secretariat.reply(world.base / "r1.bin")
    assert "sent: more_info" in text_of(out / "index.html")
    tool("intake", "import", world.base / "r1.bin", env=world.env)
    status_page = world.client.post(
        "/es/status",
        data={"reference_code": code, "csrf_token": csrf_token(world.client.get("/es/status").text)},
    ).text
    answer = {
        "csrf_token": csrf_token(status_page),
        "reference_code": code,
        "message": "El 12 de marzo.",
        "contact_details": "",
    }
    assert world.client.post("/es/followup", data=answer).status_code == 200
    tool("intake", "export", "--out", world.base / "export-2.bin", env=world.env)
    world.secretariat.decrypt(world.base / "export-2.bin", "--lang", "fr")
    for item in (world.item(code, "individual"), world.item(code, "followup")):
        thread = text_of(out / "requests" / item / "request.html")
        assert "Quelle est la date de l'audience ?" in thread and "El 12 de marzo." in thread, item
        assert thread.index("Quelle est la date") < thread.index("El 12 de marzo.")
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.count('<span class="new">new</span>') == 1 and "answered: needs a decision" in index
