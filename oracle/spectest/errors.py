"""Errors of the script reader: a script the runner cannot understand (exit status 2)."""


class ScriptError(Exception):
    def __init__(self, message: str, pos: int = -1):
        super().__init__(message)
        self.message = message
        self.pos = pos


class UnsupportedForm(ScriptError):
    """Well-formed script text the runner cannot express (a component, a reference argument
    it cannot pass, ...): the command holding it is skipped with this reason, not the run
    ended."""
