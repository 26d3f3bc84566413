"""Domain errors. Their message is written for the person who caused them."""


class IncidentError(Exception):
    def __init__(self, message: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage


class NotFound(IncidentError):
    pass


class NotInIncident(IncidentError):
    pass


class Conflict(IncidentError):
    """The state changed under the user (double click, two people at once)."""
