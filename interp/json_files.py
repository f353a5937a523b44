"""Reading JSON files that interp or the user wrote (manifests, configs, reports, corpora's records): one reader, so
a file that is not valid JSON is always one line naming the file, where it breaks and what to do, never a bare
"Expecting value: line 1 column 1" that names no file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def json_error(path: str | Path, e: json.JSONDecodeError, fix: str = "") -> ValueError:
    """The one error for a file that is not valid JSON: the file, the line and column, and the fix."""
    fix = fix or "repair it, or delete it and rerun the command that wrote it"
    return ValueError(f"{path} is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}): {fix}")


def read_json(path: str | Path, fix: str = "") -> Any:
    """The parsed content of a JSON file; a decode error (or bytes that are not UTF-8) names the file and `fix`.
    A missing file raises FileNotFoundError as open() does."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise json_error(path, e, fix) from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a text (JSON) file: {fix or 'give the JSON file interp wrote'}") from None
