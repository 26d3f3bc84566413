"""Problems found while starting that the operator must fix; reported in one line."""


class StartupError(Exception):
    pass
