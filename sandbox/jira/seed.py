"""Example data for the MODREQ project: one place for field names, options, people and issues.

Other modules (rules YAML, mapping tests, demos) should take the field names and option
values from here rather than retyping them. The Market field deliberately offers `TW`,
which govflow's routing does not cover: the "unknown market" case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sandbox.jira.model import FieldKind
from sandbox.jira.state import JiraState

PROJECT_KEY = "MODREQ"
PROJECT_NAME = "Moderation strategy requests"

REQUEST_TYPE = "Request type"
DOMAIN = "Domain"
MARKET = "Market"
BUSINESS_JUSTIFICATION = "Business justification"
AFFECTED_SOP = "Affected SOP"
PROPOSED_CHANGE = "Proposed change"
EVIDENCE_LINKS = "Evidence links"

REVIEW_STANDARD_CHANGE = "Review standard change"
ONBOARDING_RULE_EXCEPTION = "Onboarding rule exception"
LISTING_POLICY_CHANGE = "Listing policy change"
QA_DISPUTE = "QA dispute"
NEW_CATEGORY_SOP = "New category SOP"
POLICY_EXCEPTION = "Policy exception"
REQUEST_TYPES = (
    REVIEW_STANDARD_CHANGE,
    ONBOARDING_RULE_EXCEPTION,
    LISTING_POLICY_CHANGE,
    QA_DISPUTE,
    NEW_CATEGORY_SOP,
    POLICY_EXCEPTION,
)

MERCHANT_ONBOARDING = "Merchant onboarding"
PRODUCT_LISTING = "Product listing"
CONTENT = "Content"
DOMAINS = (MERCHANT_ONBOARDING, PRODUCT_LISTING, CONTENT)

MARKETS = ("MY", "SG", "ID", "TH", "PH", "VN")
UNKNOWN_MARKET = "TW"
MARKET_OPTIONS = (*MARKETS, UNKNOWN_MARKET)


@dataclass(frozen=True)
class SeedField:
    """A custom field of the MODREQ project, with a fixed id so config can name it."""

    id: str
    name: str
    kind: FieldKind
    options: tuple[str, ...] = ()


CUSTOM_FIELDS: tuple[SeedField, ...] = (
    SeedField("customfield_10050", REQUEST_TYPE, FieldKind.OPTION, REQUEST_TYPES),
    SeedField("customfield_10051", DOMAIN, FieldKind.OPTION, DOMAINS),
    SeedField("customfield_10052", MARKET, FieldKind.OPTION, MARKET_OPTIONS),
    SeedField("customfield_10053", BUSINESS_JUSTIFICATION, FieldKind.TEXTAREA),
    SeedField("customfield_10054", AFFECTED_SOP, FieldKind.TEXT),
    SeedField("customfield_10055", PROPOSED_CHANGE, FieldKind.TEXTAREA),
    SeedField("customfield_10056", EVIDENCE_LINKS, FieldKind.TEXTAREA),
)
FIELD_IDS: dict[str, str] = {f.name: f.id for f in CUSTOM_FIELDS}


@dataclass(frozen=True)
class SeedUser:
    """A person in the example Jira site; `email_visible` False hides the email (Cloud privacy)."""

    email: str
    display_name: str
    time_zone: str
    team: str
    email_visible: bool = True


USERS: tuple[SeedUser, ...] = (
    SeedUser(
        "aisyah.rahman@example.com", "Aisyah Rahman", "Asia/Kuala_Lumpur", "merchant services"
    ),
    SeedUser("budi.santoso@example.com", "Budi Santoso", "Asia/Jakarta", "BPO"),
    SeedUser("chloe.tan@example.com", "Chloe Tan", "Asia/Singapore", "QA"),
    SeedUser(
        "nguyen.thi.lan@example.com", "Nguyen Thi Lan", "Asia/Ho_Chi_Minh", "merchant services"
    ),
    SeedUser("somchai.phongsri@example.com", "Somchai Phongsri", "Asia/Bangkok", "BPO"),
    SeedUser("maria.reyes@example.com", "Maria Reyes", "Asia/Manila", "QA"),
    SeedUser(
        "vendor.ops@example.com",
        "Vendor Ops (contractor)",
        "Asia/Ho_Chi_Minh",
        "BPO",
        email_visible=False,
    ),
)


@dataclass(frozen=True)
class SeedIssue:
    """An example request: who filed it, how long ago, and its fields by display name."""

    reporter: str
    age: timedelta
    fields: dict[str, Any] = field(default_factory=dict)
    note: str = ""


EXAMPLE_ISSUES: tuple[SeedIssue, ...] = (
    SeedIssue(
        "aisyah.rahman@example.com",
        timedelta(days=3, hours=2),
        {
            "Summary": "Tighten counterfeit review standard for luxury handbag listings",
            "Description": "Counterfeit luxury bags keep passing first-line review in MY.",
            "Priority": "High",
            "Labels": ["counterfeit", "luxury"],
            REQUEST_TYPE: REVIEW_STANDARD_CHANGE,
            DOMAIN: PRODUCT_LISTING,
            MARKET: "MY",
            BUSINESS_JUSTIFICATION: (
                "Buyer complaints about counterfeit handbags rose 40% month on month; "
                "brand partners threaten to pull their official stores."
            ),
            AFFECTED_SOP: "SOP-PL-014 Counterfeit listing review",
            PROPOSED_CHANGE: (
                "Require a second reviewer and a serial-number photo for handbags listed "
                "above MYR 1,500 from non-official stores."
            ),
        },
        "complete",
    ),
    SeedIssue(
        "budi.santoso@example.com",
        timedelta(days=2, hours=5),
        {
            "Summary": "Onboarding exception for pharmacies awaiting BPOM licence renewal",
            "Description": "Twelve pharmacy merchants have renewals pending with BPOM.",
            REQUEST_TYPE: ONBOARDING_RULE_EXCEPTION,
            DOMAIN: MERCHANT_ONBOARDING,
            MARKET: "ID",
            BUSINESS_JUSTIFICATION: (
                "Renewals take 60+ days; the merchants hold valid licences until renewal "
                "and account for 8% of health-category GMV in ID."
            ),
            AFFECTED_SOP: "SOP-MO-003 Regulated merchant onboarding",
            PROPOSED_CHANGE: (
                "Accept the BPOM renewal receipt in place of the licence for 90 days, "
                "with a reminder to re-verify."
            ),
            EVIDENCE_LINKS: "https://drive.example.com/bpom-renewal-receipts",
        },
        "complete",
    ),
    SeedIssue(
        "somchai.phongsri@example.com",
        timedelta(days=1, hours=20),
        {
            "Summary": "Allow refurbished phones in the Mobile category with grading labels",
            "Description": "Sellers ask to list refurbished phones next to new ones.",
            REQUEST_TYPE: LISTING_POLICY_CHANGE,
            DOMAIN: PRODUCT_LISTING,
            MARKET: "TH",
            AFFECTED_SOP: "SOP-PL-021 Used and refurbished goods",
            PROPOSED_CHANGE: "Permit refurbished phones when the listing states grade A/B/C.",
        },
        "missing business justification",
    ),
    SeedIssue(
        "maria.reyes@example.com",
        timedelta(days=1, hours=3),
        {
            "Summary": "QA dispute: livestream moderation verdicts in the 12 Nov sample",
            "Description": "QA marked 9 of 50 livestream verdicts wrong; BPO disputes 7.",
            "Priority": "Low",
            REQUEST_TYPE: QA_DISPUTE,
            DOMAIN: CONTENT,
            MARKET: "PH",
            BUSINESS_JUSTIFICATION: (
                "The disputed verdicts decide the BPO's monthly quality score and penalty."
            ),
            AFFECTED_SOP: "SOP-CT-007 Livestream moderation",
            PROPOSED_CHANGE: (
                "Clarify whether on-screen price comparisons count as misleading claims."
            ),
            EVIDENCE_LINKS: "https://sheets.example.com/qa-audit-2026-11-12",
        },
        "complete",
    ),
    SeedIssue(
        "chloe.tan@example.com",
        timedelta(hours=20),
        {
            "Summary": "Ban AI-generated model photos without disclosure in fashion listings",
            "Description": "Some fashion sellers use AI-generated models without saying so.",
            REQUEST_TYPE: LISTING_POLICY_CHANGE,
            DOMAIN: CONTENT,
            MARKET: UNKNOWN_MARKET,
            BUSINESS_JUSTIFICATION: "Returns for 'not as pictured' doubled for affected sellers.",
            AFFECTED_SOP: "SOP-CT-011 Listing imagery",
            PROPOSED_CHANGE: "Require an 'AI-generated image' tag on such photos.",
        },
        "unknown market",
    ),
    SeedIssue(
        "nguyen.thi.lan@example.com",
        timedelta(hours=6),
        {
            "Summary": "Review standard change: food-safety certificates for home bakers",
            "Description": "Home bakers in VN cannot obtain the certificate our SOP names.",
            "Priority": "High",
            REQUEST_TYPE: REVIEW_STANDARD_CHANGE,
            DOMAIN: MERCHANT_ONBOARDING,
            MARKET: "VN",
            BUSINESS_JUSTIFICATION: (
                "About 300 home bakers per month are rejected; a ward-level commitment "
                "letter is the legal requirement for household businesses."
            ),
            AFFECTED_SOP: "SOP-MO-009 Food merchant documents",
            PROPOSED_CHANGE: (
                "Accept the ward-level food-safety commitment letter for household bakers."
            ),
        },
        "complete",
    ),
    SeedIssue(
        "vendor.ops@example.com",
        timedelta(hours=2),
        {
            "Summary": "Exception: bulk onboarding of 40 SG stationery merchants",
            "Description": "A distributor wants to onboard its resellers in one batch.",
            REQUEST_TYPE: ONBOARDING_RULE_EXCEPTION,
            DOMAIN: MERCHANT_ONBOARDING,
            MARKET: "SG",
            BUSINESS_JUSTIFICATION: "Back-to-school season starts in three weeks.",
            AFFECTED_SOP: "SOP-MO-001 Merchant onboarding",
            PROPOSED_CHANGE: "Verify the distributor once and its resellers by sample of 5.",
            EVIDENCE_LINKS: "https://drive.example.com/distributor-reseller-list",
        },
        "complete, reporter's email hidden by Atlassian privacy settings",
    ),
)


def seed_examples(state: JiraState) -> list[str]:
    """Create the MODREQ project, its fields, people and example issues; returns the keys."""
    with state.lock:
        for spec in CUSTOM_FIELDS:
            if spec.id not in state.fields:
                state.add_custom_field(spec.name, spec.kind, options=spec.options, field_id=spec.id)
        for person in USERS:
            state.add_user(
                person.email,
                person.display_name,
                time_zone=person.time_zone,
                email_visible=person.email_visible,
            )
        if PROJECT_KEY not in state.projects:
            state.add_project(PROJECT_KEY, PROJECT_NAME)
        now = state.now()
        return [
            state.file_issue(
                project=PROJECT_KEY,
                reporter=example.reporter,
                fields=example.fields,
                created=now - example.age,
            )
            for example in EXAMPLE_ISSUES
        ]
