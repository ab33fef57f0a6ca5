"""`edgedigits predict`: the runtime's own `edgedigits-rt predict`, registered on the main command.

Same options, same output, same library call (:func:`edgedigits_runtime.predict.predict_files`):
the toolkit adds nothing on top of what runs on the device.
"""

from __future__ import annotations

from edgedigits.cli import app
from edgedigits_runtime.cli import predict_command

app.command("predict")(predict_command)
