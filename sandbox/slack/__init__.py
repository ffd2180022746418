"""A stand-in for the Slack Web API, stateful enough to test govflow's Slack side against.

SlackSandbox        in-process server + control API (tests)
RemoteSlackSandbox  the same control API over HTTP, for a stand-in in another process
EXAMPLE_WORKSPACE   the seeded marketplace moderation-strategy workspace (ids to import)
"""

from sandbox.slack.sandbox import RemoteSlackSandbox, SlackSandbox, SlackSandboxControl
from sandbox.slack.seed import EXAMPLE_WORKSPACE, WorkspaceSeed

__all__ = [
    "EXAMPLE_WORKSPACE",
    "RemoteSlackSandbox",
    "SlackSandbox",
    "SlackSandboxControl",
    "WorkspaceSeed",
]
