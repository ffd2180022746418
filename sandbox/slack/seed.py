"""The example Slack workspace: a marketplace moderation-strategy org, importable as data.

Config fixtures, tests and the stand-in all read these ids from here, so a roster in a test
YAML and the workspace the stand-in serves cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UserSeed:
    """One person (or the bot) in the workspace."""

    id: str
    name: str
    real_name: str
    email: str | None
    tz: str
    team: str
    title: str = ""
    is_bot: bool = False
    bot_id: str | None = None
    app_id: str | None = None


@dataclass(frozen=True)
class ChannelSeed:
    """One public or private channel and who is in it."""

    id: str
    name: str
    members: tuple[str, ...]
    purpose: str = ""
    is_private: bool = False
    is_general: bool = False


@dataclass(frozen=True)
class TeamSeed:
    """The workspace itself."""

    id: str
    name: str
    domain: str


@dataclass(frozen=True)
class WorkspaceSeed:
    """Everything a fresh workspace holds: team, people, channels and the bot's token."""

    team: TeamSeed
    bot: UserSeed
    bot_token: str
    users: tuple[UserSeed, ...]
    channels: tuple[ChannelSeed, ...]

    def user_by_email(self, email: str) -> UserSeed:
        """The seeded person with this email (KeyError if none)."""
        for user in self.users:
            if user.email is not None and user.email.lower() == email.lower():
                return user
        raise KeyError(email)

    def channel_by_name(self, name: str) -> ChannelSeed:
        """The seeded channel with this name, without `#` (KeyError if none)."""
        for channel in self.channels:
            if channel.name == name.lstrip("#"):
                return channel
        raise KeyError(name)

    def team_members(self, team: str) -> tuple[UserSeed, ...]:
        """The seeded people of one team key (`qa`, `bpo`, `product` ...)."""
        return tuple(u for u in self.users if u.team == team)


BOT = UserSeed(
    id="U0GF00001",
    name="govflow",
    real_name="govflow",
    email=None,
    tz="UTC",
    team="bot",
    is_bot=True,
    bot_id="B0GF00001",
    app_id="A0GF00001",
)


def _person(uid: str, first: str, last: str, tz: str, team: str, title: str) -> UserSeed:
    login = f"{first}.{last}".lower()
    return UserSeed(
        id=uid,
        name=login,
        real_name=f"{first} {last}",
        email=f"{login}@example.com",
        tz=tz,
        team=team,
        title=title,
    )


USERS: tuple[UserSeed, ...] = (
    _person("U0QA00001", "Priya", "Raman", "Asia/Kolkata", "qa", "QA Lead"),
    _person("U0QA00002", "Tomas", "Herrera", "Europe/Madrid", "qa", "QA Analyst"),
    _person("U0BP00001", "Grace", "Okafor", "Asia/Manila", "bpo", "BPO Operations Manager"),
    _person("U0BP00002", "Marco", "Bianchi", "Asia/Manila", "bpo", "BPO Team Lead"),
    _person("U0PM00001", "Hannah", "Schulz", "Europe/Berlin", "product", "Product Manager"),
    _person("U0AL00001", "Kenji", "Watanabe", "Asia/Tokyo", "algorithm", "ML Engineer"),
    _person("U0GV00001", "Amara", "Nwosu", "Europe/London", "governance", "Policy Governance"),
    _person("U0MS00001", "Lucas", "Martin", "Europe/Paris", "merchant", "Merchant Services"),
    _person("U0MS00002", "Sofia", "Rossi", "Europe/Rome", "merchant", "Merchant Services"),
    _person("U0EX00001", "Elena", "Petrova", "Europe/Berlin", "experts", "Listing Expert"),
    _person("U0EX00002", "Daniel", "Kim", "America/New_York", "experts", "Onboarding Expert"),
    _person("U0EX00003", "Fatima", "Zahra", "Europe/Berlin", "experts", "Listing SOP Owner"),
)


def _ids(*teams: str) -> tuple[str, ...]:
    return (BOT.id, *(u.id for u in USERS if u.team in teams))


CHANNELS: tuple[ChannelSeed, ...] = (
    ChannelSeed(
        "C0GN00001", "general", (BOT.id, *(u.id for u in USERS)), "Everyone", is_general=True
    ),
    ChannelSeed("C0QA00001", "qa-signoff", _ids("qa"), "QA sign-off on strategy changes"),
    ChannelSeed("C0BP00001", "bpo-operations", _ids("bpo"), "BPO operations sign-off"),
    ChannelSeed("C0PM00001", "product-moderation", _ids("product"), "Product sign-off"),
    ChannelSeed("C0AL00001", "algorithm-strategy", _ids("algorithm"), "Algorithm sign-off"),
    ChannelSeed("C0GV00001", "governance", _ids("governance"), "Policy governance sign-off"),
    ChannelSeed("C0MS00001", "merchant-services", _ids("merchant"), "Merchant services requests"),
    ChannelSeed(
        "C0EX00001",
        "listing-experts",
        (BOT.id, "U0EX00001", "U0EX00003"),
        "Listing moderation experts",
    ),
    ChannelSeed(
        "C0EX00002", "onboarding-experts", (BOT.id, "U0EX00002"), "Merchant onboarding experts"
    ),
    ChannelSeed(
        "C0TR00001",
        "training-announcements",
        (BOT.id, *(u.id for u in USERS)),
        "SOP changes and training for moderators",
    ),
)


EXAMPLE_WORKSPACE = WorkspaceSeed(
    team=TeamSeed(id="T0GOVFLOW", name="Example Marketplace", domain="example-marketplace"),
    bot=BOT,
    bot_token="xoxb-000000000001-sandbox-govflow",
    users=USERS,
    channels=CHANNELS,
)
