"""A test plugin: a step that takes a while, so that tests can act while a batch is in flight."""

import os
import time

from pydantic import BaseModel, ConfigDict

from workflowd import Step, StepResult, hookimpl


class SlowSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = 0.2
    runs_log: str = ""  # a file that gets one line per run: "<sha256 of the text> <pid>"
    warm_up_seconds: float = 0.0  # how long its warm-up takes (as a model would to load)


class Slow(Step):
    name = "slow"
    Settings = SlowSettings

    def warm_up(self):
        time.sleep(self.settings.warm_up_seconds)

    def run(self, doc):
        time.sleep(self.settings.seconds)
        if self.settings.runs_log:
            with open(self.settings.runs_log, "a") as fh:
                fh.write(f"{doc.id} {os.getpid()}\n")
        return StepResult({"chars": len(doc.text)})


@hookimpl
def register_steps():
    return [Slow]
