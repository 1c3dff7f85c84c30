"""A page that fails, for tests/test_browser_links.py: with the project's
``client.showErrorDetails`` the visitor must not see this message or its
traceback, and the server's log must keep both."""

import streamlit as st

st.write("before the failure")
raise RuntimeError("SECRET-DETAIL /srv/private/path")
