"""The sandbox console: Jira and Slack stand-ins in a browser (`govflow serve` starts it)."""
