"""A test plugin: steps that end things they should not be able to end.

``exits`` calls ``sys.exit()`` on documents whose text says "exit"; ``interrupt`` raises
KeyboardInterrupt (which escapes the pipeline and ends the worker thread) on documents whose
text says "interrupt", once per marker file (``once_marker``), or always without one.
"""

import sys
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from workflowd import Step, StepResult, hookimpl


class Exits(Step):
    name = "exits"

    def run(self, doc):
        if "exit" in doc.text:
            sys.exit()
        return StepResult({"exited": False})


class InterruptSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    once_marker: str = ""


class Interrupt(Step):
    name = "interrupt"
    Settings = InterruptSettings

    def run(self, doc):
        if "interrupt" in doc.text:
            marker = Path(self.settings.once_marker) if self.settings.once_marker else None
            if marker is None or not marker.exists():
                if marker is not None:
                    marker.write_text("interrupted once")
                raise KeyboardInterrupt
        return StepResult({"interrupted": False})


@hookimpl
def register_steps():
    return [Exits, Interrupt]
