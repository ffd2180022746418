"""The rules schema moved to `domain.rules` (the domain imports nothing above it); this name
stays while its importers move. New code imports `domain.rules`.
"""

from domain.rules import (
    DURATION as DURATION,
)
from domain.rules import (
    EMAIL as EMAIL,
)
from domain.rules import (
    JIRA_PROJECT_KEY as JIRA_PROJECT_KEY,
)
from domain.rules import (
    KEY as KEY,
)
from domain.rules import (
    PRIORITIES as PRIORITIES,
)
from domain.rules import (
    SLACK_CHANNEL_ID as SLACK_CHANNEL_ID,
)
from domain.rules import (
    SLACK_USER_ID as SLACK_USER_ID,
)
from domain.rules import (
    WEEKDAYS as WEEKDAYS,
)
from domain.rules import (
    Calendar as Calendar,
)
from domain.rules import (
    ChannelId as ChannelId,
)
from domain.rules import (
    Domain as Domain,
)
from domain.rules import (
    Duration as Duration,
)
from domain.rules import (
    EscalationAction as EscalationAction,
)
from domain.rules import (
    EscalationStep as EscalationStep,
)
from domain.rules import (
    FieldKind as FieldKind,
)
from domain.rules import (
    Hours as Hours,
)
from domain.rules import (
    JiraRules as JiraRules,
)
from domain.rules import (
    Key as Key,
)
from domain.rules import (
    Match as Match,
)
from domain.rules import (
    OutOfOffice as OutOfOffice,
)
from domain.rules import (
    Person as Person,
)
from domain.rules import (
    Priority as Priority,
)
from domain.rules import (
    ProjectKey as ProjectKey,
)
from domain.rules import (
    Quorum as Quorum,
)
from domain.rules import (
    QuorumKind as QuorumKind,
)
from domain.rules import (
    RejectOutcome as RejectOutcome,
)
from domain.rules import (
    RequestType as RequestType,
)
from domain.rules import (
    Route as Route,
)
from domain.rules import (
    Rules as Rules,
)
from domain.rules import (
    SignOff as SignOff,
)
from domain.rules import (
    SlaPolicy as SlaPolicy,
)
from domain.rules import (
    SopRules as SopRules,
)
from domain.rules import (
    Strict as Strict,
)
from domain.rules import (
    Team as Team,
)
from domain.rules import (
    TicketField as TicketField,
)
from domain.rules import (
    Weekday as Weekday,
)
