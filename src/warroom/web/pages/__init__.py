"""The responders' web app: server-rendered pages, a little JavaScript for the live parts."""
