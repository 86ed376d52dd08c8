"""The front end alone: decode and validate with `winch.wasm`, execute nothing.

Module-level commands are checked strictly: a malformed module must raise `DecodeError`,
an invalid one `ValidationError`; `Unsupported` names the feature.  Instantiation and
invocations are `NotRun`.
"""

from __future__ import annotations

from oracle.engines.base import Engine, NotRun, Rejected, Session
from winch.errors import DecodeError, Unsupported, ValidationError
from winch.wasm import validate


class FrontendEngine(Engine):
    name = "frontend"
    executes = False

    def session(self) -> "FrontendSession":
        return FrontendSession()


class FrontendSession(Session):
    def compile(self, wasm: bytes):
        try:
            return validate(bytes(wasm))
        except Unsupported as e:
            raise Rejected("unsupported", str(e), feature=e.feature, offset=e.offset) from None
        except DecodeError as e:
            raise Rejected("malformed", str(e), offset=e.offset) from None
        except ValidationError as e:
            raise Rejected("invalid", str(e), offset=e.offset) from None

    def instantiate(self, compiled):
        raise NotRun("not run: front end only")

    def register(self, name, instance):
        raise NotRun("not run: front end only")

    def invoke(self, instance, export, args):
        raise NotRun("not run: front end only")

    def get(self, instance, export):
        raise NotRun("not run: front end only")
