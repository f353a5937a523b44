"""One selection per page, driven by tables, links, buttons and the URL.

Every page that shows one item (a feature, a neuron, a steering direction) keeps it in st.session_state under its
widgets' keys and mirrors it into the URL's query parameters (`publish`), so that

- a URL such as /features?dictionary=sae-topk&feature=12 reopens that feature page (`arrive` applies query
  parameters the page has not seen yet: a shared URL, a st.page_link, st.switch_page(..., query_params=...));
- the chosen item survives switching pages (Streamlit drops the widgets' state of a page that is not shown: `arrive`
  restores what `publish` kept);
- clicking a table row opens the row's item (`picked`: a dataframe selection, applied once when it changes).

Pages call these before creating the widgets whose keys they set (Streamlit allows writing a widget's state only
before the widget exists in the run).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

KEPT, SEEN, PICKED = "_kept", "_url_seen", "_picked"


def arrive(page: str, params: dict[str, Callable[[str], Any]]) -> bool:
    """Apply the URL's query parameters `params` (name -> parser raising ValueError on a bad value) to the
    session state when the URL brings values this page has not published; else restore the page's kept values for
    keys that are not set. Returns True when the URL was applied."""
    url = {k: st.query_params[k] for k in params if k in st.query_params}
    seen = st.session_state.setdefault(SEEN, {})
    if url and url != seen.get(page):
        seen[page] = url
        for k, v in url.items():
            try:
                st.session_state[k] = params[k](v)
            except (ValueError, TypeError, KeyError):
                pass  # a stale or hand-edited URL: keep the page's default for this key
        return True
    for k, v in st.session_state.get(KEPT, {}).get(page, {}).items():
        if k not in st.session_state:
            st.session_state[k] = v
    return False


def publish(page: str, **values: Any) -> None:
    """Keep the page's selection for later visits and show it in the URL (only these parameters).

    The URL is sent on every run, not only when the server's copy changed: a link to the page being shown (a
    neighbour, a correlate) reruns it with the new parameters without moving the browser's address. The browser
    pushes a history entry only when the address differs from the one it shows (and replaces it on a Back / Forward
    rerun), so Back and Forward step through what was viewed and a copied address reopens the current view."""
    st.session_state.setdefault(KEPT, {})[page] = dict(values)
    url = {k: str(v) for k, v in values.items()}
    st.session_state.setdefault(SEEN, {})[page] = url
    st.query_params.from_dict(url)


def after_filters(before: str, query: str, current: int, shown: list[int]) -> int | None:
    """The unit to open after a table's search text went from `before` to `query` or its other filters changed,
    `shown` being the rows it now shows, in order: the first match of a new search; None (keep the unit shown) when
    the search was cleared, a sort changed or nothing matches; the first row when a filter hid the unit shown."""
    if not shown:
        return None
    if query and query != before:
        return shown[0]
    return None if current in shown or (not query and before) else shown[0]


def picked(key: str, rows: list[int]) -> int | None:
    """The first of `rows` (a dataframe's selected rows, a chart's selected points) when this selection is new,
    else None (empty, or already applied on an earlier run)."""
    rows = [int(r) for r in rows]
    store = st.session_state.setdefault(PICKED, {})
    last, store[key] = store.get(key), rows
    return rows[0] if rows and rows != last else None


def changed(key: str, value: Any) -> bool:
    """True when `value` differs from the one seen under `key` on this page's previous run (False the first
    time): a search or filter the user just changed."""
    store = st.session_state.setdefault(PICKED, {})
    name = f"changed:{key}"
    before = store.get(name, value)
    store[name] = value
    return before != value


def choice(options: list[str]) -> Callable[[str], str]:
    """A query-parameter parser accepting one of `options`."""
    def parse(v: str) -> str:
        if v not in options:
            raise ValueError(v)
        return v
    return parse


def bounded(lo: int, hi: int) -> Callable[[str], int]:
    """A query-parameter parser accepting an integer in lo..hi."""
    def parse(v: str) -> int:
        i = int(v)
        if not lo <= i <= hi:
            raise ValueError(v)
        return i
    return parse


def keep_valid(key: str, options: list, default: Any = None) -> None:
    """Before a selectbox over `options` renders: reset its state when it holds a value no longer offered (another
    model or dictionary was picked upstream)."""
    if key in st.session_state and st.session_state[key] not in options:
        st.session_state[key] = default if default in options else (options[0] if options else None)
