"""The pytest plugin (`cityhall` entry point in `pytest11`) and what it is made of: the whole
suite started once per test session, logged-in clients, the mailbox, the simulation clock
and helpers that drive outcomes. See `plugin.py` for the fixtures.

Nothing is imported here: pytest loads the plugin in every run of a project that has cityhall
installed, and the suite's modules take seconds to import."""
