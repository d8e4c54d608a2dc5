"""The two support requests: for a person at risk, and for an organisation at risk."""

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from wtforms import SelectField

from intake.web.fields import (
    CONFIDENTIALITY,
    CONTACT_LANGUAGES,
    CONTACT_METHODS,
    URGENCY,
    YES_NO,
    YES_NO_UNSURE,
    Required,
    RequiredIf,
    checkboxes,
    choice,
    countries,
    country_choice,
    number,
    text,
)
from intake.web.forms import SealableForm

NOT_INSTANT = _l("If you are in immediate danger, do not wait for a reply here: replies take time.")


class RequestForm(SealableForm):
    """The questions both support requests ask, in the same words."""

    ATTACHMENTS = True

    contact_method = choice(
        _l("How should we contact you?"),
        CONTACT_METHODS,
        Required(),
        help=_l(
            "Choose the safest way for you. This site does not protect ordinary email, phone calls or messages."
        ),
    )
    contact_details = text(
        _l("Address, number or user name"),
        200,
        RequiredIf(
            "contact_method",
            "email",
            "messaging_app",
            "phone",
            "other",
            when=_l("(not needed if we reply only on this website)"),
        ),
        help=_l("Write exactly what we should use, for example the email address, or the app and user name."),
    )
    contact_safety = text(
        _l("How can we contact you safely?"),
        1000,
        area=True,
        help=_l(
            "For example: safe times, words we must not use, or things we must never do, such as calling."
        ),
    )
    contact_language = choice(
        _l("In which language should we write to you?"),
        CONTACT_LANGUAGES,
        Required(),
        kind=SelectField,
        help=_l("We work in English, French, Spanish, Arabic and Russian."),
    )
    confidentiality = choice(
        _l("May we share this information?"),
        CONFIDENTIALITY,
        Required(),
        help=_l(
            "All information is kept confidential. If your request is accepted, we will ask you again "
            "whether it must stay confidential or can be shared."
        ),
    )
    applied_elsewhere = choice(
        _l("Have you asked other programmes or organisations for support in this situation?"),
        YES_NO,
        Required(),
        help=_l("Please tell us, even if you have no answer yet."),
    )
    applied_elsewhere_details = text(
        _l("Which programmes, and what did they answer?"),
        1000,
        RequiredIf("applied_elsewhere", "yes", when=_l("(only if you answered Yes)")),
        area=True,
        help=_l("Name each one and say if the request is still open, accepted or declined."),
    )
    measures_other = text(
        _l("Other measure"),
        200,
        RequiredIf("measures", "other", when=_l("(only if you chose “Other”)")),
        help=_l("Say in a few words what other measure is needed."),
    )
    risk_description = text(
        _l("What is the threat or risk?"),
        5000,
        Required(),
        area=True,
        help=_l(
            "Say what happened or what you fear, who is behind it if you know, when it started, and how "
            "it is linked to the human rights work."
        ),
    )
    urgency = choice(_l("How urgent is the situation?"), URGENCY, Required(), help=NOT_INSTANT)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = countries(_l("Choose a country"))
        if "current_country" in self:
            self.current_country.choices = countries(_l("Same country, or I prefer not to say"))
        # Defaults for a fresh form: the page's language, and the safer confidentiality choice.
        self.contact_language.data = self.contact_language.data or str(get_locale())
        self.confidentiality.data = self.confidentiality.data or "keep_confidential"


MEASURE_DETAILS = _l("Describe the measures you propose")
WORK_HELP = _l(
    "For example: which rights or which communities, and for how long. A few sentences are enough."
)
SENDER_SECTION = _l("Who is sending this request?")
CONTACT_SECTION = _l("How to contact you safely")
CONTACT_FIELDS = ["contact_method", "contact_details", "contact_safety", "contact_language"]


class IndividualForm(RequestForm):
    """Support for a person at risk."""

    KIND = "individual"
    TITLE = _l("Ask for support for a person at risk")
    SECTIONS = [
        (_l("How urgent is it?"), ["urgency"]),
        (SENDER_SECTION, ["on_behalf", "sender_relation", "defender_aware"]),
        (_l("The defender"), ["defender_name", "country", "current_country", "hr_work"]),
        (_l("The risk"), ["risk_description", "family_at_risk", "family_details"]),
        (_l("The support you ask for"), ["measures", "measures_other", "measures_details", "amount_eur"]),
        (_l("Other requests"), ["other_open_request", "applied_elsewhere", "applied_elsewhere_details"]),
        (CONTACT_SECTION, CONTACT_FIELDS),
        (_l("Confidentiality"), ["confidentiality"]),
    ]

    on_behalf = choice(
        _l("Are you writing for someone else?"),
        [("no", _l("No, I am the defender at risk")), ("yes", _l("Yes, I am writing for someone else"))],
        Required(),
        help=_l(
            "You can send requests for different defenders at the same time: one form for each defender."
        ),
    )
    sender_relation = text(
        _l("Your relationship to the defender"),
        100,
        RequiredIf("on_behalf", "yes", when=_l("(only if you are writing for someone else)")),
        help=_l("For example: colleague, lawyer, family member."),
    )
    defender_aware = choice(
        _l("Does the defender know about this request?"),
        YES_NO_UNSURE,
        help=_l("Only if you are writing for someone else. This helps us contact the defender safely."),
    )
    defender_name = text(
        _l("Name of the person at risk"),
        100,
        Required(),
        help=_l(
            "A pseudonym (a name that is not the real one) is fine. Use the same one if you write to us again."
        ),
    )
    country = country_choice(
        _l("Country where the defender does human rights work"),
        Required(),
        help=_l("Choose the country where the risk is."),
    )
    current_country = country_choice(
        _l("Country where the defender is now, if different"),
        help=_l("Only tell us if it is safe to do so."),
    )
    hr_work = text(
        _l("What human rights work does the defender do?"), 2000, Required(), area=True, help=WORK_HELP
    )
    family_at_risk = choice(
        _l("Are members of the defender's family also at risk?"),
        YES_NO_UNSURE,
        Required(),
        help=_l(
            "If the family needs support because of the defender's risk, you can ask for support for them too."
        ),
    )
    family_details = text(
        _l("About the family members at risk"),
        1000,
        area=True,
        help=_l("How many people, and how they are related to the defender. Names are not needed."),
    )
    measures = checkboxes(
        _l("What protection measures are needed?"),
        [
            ("physical_security", _l("Physical security (for example safe transport, alarm systems)")),
            ("emergency_relocation", _l("Emergency relocation")),
            ("legal_aid", _l("Legal aid (for example lawyers' fees)")),
            ("medical", _l("Medical costs")),
            ("psychosocial", _l("Psychosocial support")),
            ("family_support", _l("Support for the family")),
            ("digital_security", _l("Digital security")),
            ("capacity_building", _l("Training to work more safely")),
            ("advocacy", _l("Political and advocacy support")),
            ("other", _l("Other")),
        ],
        Required(),
        help=_l(
            "Choose all that fit. You know your own security best, so tell us what would help. We cannot "
            "pay for things that are not about physical or psychological security, such as university "
            "education, office supplies or rent."
        ),
    )
    measures_details = text(
        MEASURE_DETAILS,
        2000,
        area=True,
        help=_l("What exactly would help, and how it would make the defender safer."),
    )
    amount_eur = number(
        _l("Estimated cost in euros"),
        1_000_000,
        help=_l(
            "A rough estimate, in whole euros. As a guide, emergency grants run by our partners can cover "
            "up to 10,000 EUR (the average is 3,000 EUR). Each case is assessed on its own."
        ),
    )
    other_open_request = choice(
        _l("Is there another request for this defender that we have not answered yet?"),
        YES_NO_UNSURE,
        Required(),
        help=_l(
            "We handle one request per defender at a time. If there are several, we will ask you which "
            "one to handle."
        ),
    )


class OrganisationForm(RequestForm):
    """Support for an organisation at risk."""

    KIND = "organisation"
    TITLE = _l("Ask for support for an organisation at risk")
    SECTIONS = [
        (_l("How urgent is it?"), ["urgency"]),
        (SENDER_SECTION, ["on_behalf", "sender_relation"]),
        (_l("The organisation"), ["org_name", "country", "org_type", "org_work", "members_at_risk"]),
        (_l("The risk"), ["risk_description"]),
        (_l("The support you ask for"), ["measures", "measures_other", "measures_details", "amount_eur"]),
        (_l("Other requests"), ["applied_elsewhere", "applied_elsewhere_details"]),
        (CONTACT_SECTION, CONTACT_FIELDS),
        (_l("Confidentiality"), ["confidentiality"]),
    ]

    on_behalf = choice(
        _l("Are you writing from outside the organisation?"),
        [
            ("no", _l("No, I am a member of the organisation")),
            ("yes", _l("Yes, I am writing for the organisation from outside")),
        ],
        Required(),
        help=_l("For example, a partner organisation writing for a group at risk."),
    )
    sender_relation = text(
        _l("Your relationship to the organisation"),
        100,
        RequiredIf("on_behalf", "yes", when=_l("(only if you are writing from outside)")),
        help=_l("For example: partner organisation, lawyer, or network."),
    )
    org_name = text(
        _l("Name of the organisation"),
        150,
        help=_l("Leave it empty, or use another name, if naming the organisation is not safe."),
    )
    country = country_choice(
        _l("Country where the organisation works"),
        Required(),
        help=_l("If it works in several countries, choose the one where the risk is."),
    )
    org_type = choice(
        _l("What kind of organisation is it?"),
        [
            ("", _l("Choose one")),
            ("ngo", _l("Non-governmental organisation (NGO)")),
            ("unregistered_group", _l("Group or collective that is not registered")),
            ("community", _l("Community or indigenous organisation")),
            ("trade_union", _l("Trade union")),
            ("lawyers", _l("Lawyers' group")),
            ("media", _l("Media or journalists' organisation")),
            ("network", _l("Network or coalition")),
            ("other", _l("Other")),
        ],
        Required(),
        kind=SelectField,
        help=_l("Choose the closest one."),
    )
    org_work = text(
        _l("What human rights work does the organisation do?"), 2000, Required(), area=True, help=WORK_HELP
    )
    members_at_risk = number(
        _l("How many members or staff are at risk?"), 100_000, help=_l("An estimate is fine.")
    )
    measures = checkboxes(
        _l("What protection measures are needed?"),
        [
            ("physical_security", _l("Physical or office security")),
            ("emergency_relocation", _l("Emergency relocation")),
            ("legal_aid", _l("Legal aid (for example lawyers' fees)")),
            ("medical", _l("Medical costs")),
            ("psychosocial", _l("Psychosocial support")),
            ("family_support", _l("Support for members' families")),
            ("digital_security", _l("Digital security")),
            ("capacity_building", _l("Training and capacity building")),
            ("advocacy", _l("Advocacy training or advocacy support")),
            ("other", _l("Other")),
        ],
        Required(),
        help=_l(
            "Choose all that fit. The list is not complete: you can propose other measures that fit your needs."
        ),
    )
    measures_details = text(
        MEASURE_DETAILS,
        2000,
        area=True,
        help=_l("What exactly would help, and how it would make the organisation safer."),
    )
    amount_eur = number(
        _l("Estimated cost in euros"),
        1_000_000,
        help=_l(
            "A rough estimate, in whole euros. As a guide, the support programme for organisations run by "
            "our partners can cover up to 15,000 EUR. Each case is assessed on its own."
        ),
    )
