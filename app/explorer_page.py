"""The gradient explorer's page script (``st.navigation`` runs it)."""

from app.streamlit_app import main

main()
