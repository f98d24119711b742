"""Alerts as CAP 1.2 XML, an Atom feed and a server-sent-events stream."""
