"""A Jira Cloud stand-in: state, JQL, REST app, test control and example data.

The entry points live in `sandbox.jira_server` (`JiraSandbox`, `create_jira_app`, the
`python -m sandbox.jira_server` command).
"""
